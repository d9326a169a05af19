// The ONNX model of the bench's second baseline (ONNX Runtime Web, see ort-baseline.js): a graph of
// two nodes, MatMul(query[1, d + 1], items[d + 1, n]) -> scores[1, n] -> TopK(scores, k), whose
// item matrix is an initializer stored as external data ("items.bin"), so the model bytes are a few
// hundred bytes whatever n is and the matrix is handed to ORT from memory (session option
// `externalData`). Encoded with pbf's PbfWriter (the npm package `pbf`, a low-level protocol
// buffers writer) from the field numbers of onnx/onnx.proto; ORT itself is the parser that checks
// it (tests/bench.test.mjs, tests/ort-model.test.mjs). No DOM: Node imports it too.
//
// Score: the item matrix holds the engine's dequantized rows and its popularity prior as one extra
// input dimension, W[k][i] = scale_i · v_ik (k < d) and W[d][i] = 0.1 · prior_i, and the query is
// [q_scale · q_1, …, q_scale · q_d, 1]: one MatMul gives q_scale · scale_i · (q · v_i) + 0.1 · prior_i,
// the engine's non-private score (docs/engine.md), in f32.

import { PbfWriter } from 'pbf';

/** The external data file name the item matrix refers to (the `path` of `externalData`). */
export const ITEMS_FILE = 'items.bin';
/** The engine's popularity prior weight (docs/engine.md), folded into the last row of W. */
export const POP_WEIGHT = 0.1;

/** onnx.proto TensorProto.DataType of the element types used here. */
const ELEM_TYPE = { float32: 1, int8: 3, int32: 6, int64: 7 };
const ATTR_INT = 2; // AttributeProto.AttributeType.INT
const EXTERNAL = 1; // TensorProto.DataLocation.EXTERNAL
const IR_VERSION = 7; // what opset 13 needs

function elemType(type) {
  const t = ELEM_TYPE[type];
  if (t === undefined) throw new RangeError(`onnxModel: unsupported element type '${type}'`);
  return t;
}

/** TensorShapeProto: `dims` are numbers (dim_value) or strings (dim_param). */
function writeShape(dims, pbf) {
  for (const d of dims) {
    pbf.writeMessage(1, (x, p) => (typeof x === 'number' ? p.writeVarintField(1, x) : p.writeStringField(2, x)), d);
  }
}

/** ValueInfoProto of a tensor: name, TypeProto{tensor_type{elem_type, shape}}. */
function writeValueInfo({ name, type, dims }, pbf) {
  pbf.writeStringField(1, name);
  const tensorType = (t, p) => {
    p.writeVarintField(1, elemType(t.type));
    p.writeMessage(2, writeShape, t.dims);
  };
  pbf.writeMessage(2, (t, p) => p.writeMessage(1, tensorType, t), { type, dims });
}

/** AttributeProto of an int. */
function writeIntAttribute([name, value], pbf) {
  pbf.writeStringField(1, name);
  pbf.writeVarintField(20, ATTR_INT);
  pbf.writeVarintField(3, value);
}

/** NodeProto: inputs, outputs, name, op_type, int attributes. */
function writeNode({ op, inputs, outputs, name, attributes = {} }, pbf) {
  for (const s of inputs) pbf.writeStringField(1, s);
  for (const s of outputs) pbf.writeStringField(2, s);
  pbf.writeStringField(3, name);
  pbf.writeStringField(4, op);
  for (const a of Object.entries(attributes)) pbf.writeMessage(5, writeIntAttribute, a);
}

/** TensorProto of an initializer whose bytes are in an external file, from `offset`. */
function writeExternalTensor({ name, type, dims, location, offset = 0, length }, pbf) {
  for (const d of dims) pbf.writeVarintField(1, d);
  pbf.writeVarintField(2, elemType(type));
  pbf.writeStringField(8, name);
  for (const [key, value] of [['location', location], ['offset', String(offset)], ['length', String(length)]]) {
    pbf.writeMessage(13, (e, p) => (p.writeStringField(1, e.key), p.writeStringField(2, e.value)), { key, value });
  }
  pbf.writeVarintField(14, EXTERNAL);
}

/**
 * ModelProto bytes of a graph in the default ONNX domain at `opset`: `nodes` [{op, inputs, outputs,
 * name? (default `${op}_${index}`), attributes?: {name: int}}] in topological order, `initializers` [{name, type, dims,
 * location, offset?, length}] all stored as external data (`location` is the `path` given to
 * ORT's `externalData`), `inputs` / `outputs` [{name, type, dims}] with dims numbers or names.
 * Types: 'float32', 'int8', 'int32', 'int64'.
 */
export function onnxModel({ name, nodes, initializers = [], inputs, outputs, opset = 13 }) {
  const pbf = new PbfWriter();
  pbf.writeVarintField(1, IR_VERSION);
  pbf.writeStringField(2, 'vitrine-bench');
  pbf.writeMessage(
    7,
    (_, g) => {
      nodes.forEach((n, i) => g.writeMessage(1, writeNode, { name: `${n.op}_${i}`, ...n }));
      g.writeStringField(2, name);
      for (const t of initializers) g.writeMessage(5, writeExternalTensor, t);
      for (const v of inputs) g.writeMessage(11, writeValueInfo, v);
      for (const v of outputs) g.writeMessage(12, writeValueInfo, v);
    },
    null,
  );
  pbf.writeMessage(8, (o, p) => (p.writeStringField(1, ''), p.writeVarintField(2, o)), opset);
  return pbf.finish().slice();
}

/** The outputs of a TopK node named `values` and `indices`, [1, k], best first. */
export const TOP_K_OUTPUTS = [
  { name: 'values', type: 'float32', dims: [1, 'k'] },
  { name: 'indices', type: 'int64', dims: [1, 'k'] },
];
/** TopK over the last axis of `scores` [1, n], `k` an int64 [1] input. */
export const TOP_K_NODE = {
  op: 'TopK',
  name: 'top_k',
  inputs: ['scores', 'k'],
  outputs: ['values', 'indices'],
  attributes: { axis: 1, largest: 1, sorted: 1 },
};

/**
 * The bench's model, scoring `n` items with `cols` = d + 1 inputs each: inputs `query` f32
 * [1, cols] and `k` int64 [1]; outputs `values` f32 [1, k] and `indices` int64 [1, k] (best first);
 * the initializer `items` f32 [cols, n] comes from ITEMS_FILE (4 · cols · n bytes).
 */
export function topKModel({ n, cols }) {
  if (!(Number.isInteger(n) && n >= 1 && Number.isInteger(cols) && cols >= 1)) {
    throw new RangeError(`topKModel: n and cols must be positive integers (got ${n}, ${cols})`);
  }
  return onnxModel({
    name: 'vitrine_bench_top_k',
    nodes: [{ op: 'MatMul', name: 'score', inputs: ['query', 'items'], outputs: ['scores'] }, TOP_K_NODE],
    initializers: [{ name: 'items', type: 'float32', dims: [cols, n], location: ITEMS_FILE, length: 4 * cols * n }],
    inputs: [
      { name: 'query', type: 'float32', dims: [1, cols] },
      { name: 'k', type: 'int64', dims: [1] },
    ],
    outputs: TOP_K_OUTPUTS,
  });
}

/**
 * The item matrix W of the model, f32 [d + 1, n] row-major (item i is column i): the engine's
 * dequantized int8 rows (`emb` [n, d], `scale` [n]) and POP_WEIGHT · `prior` as the last row.
 */
export function itemMatrix({ n, d, emb, scale, prior }) {
  const w = new Float32Array((d + 1) * n);
  // A transpose in blocks of items, so that both the rows read and the runs written stay in cache.
  const BLOCK = 256;
  for (let i0 = 0; i0 < n; i0 += BLOCK) {
    const i1 = Math.min(n, i0 + BLOCK);
    for (let k = 0; k < d; k++) {
      const row = k * n;
      for (let i = i0; i < i1; i++) w[row + i] = scale[i] * emb[i * d + k];
    }
    for (let i = i0; i < i1; i++) w[d * n + i] = POP_WEIGHT * prior[i];
  }
  return w;
}
