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

/** The external data file name the initializer refers to (the `path` of `externalData`). */
export const ITEMS_FILE = 'items.bin';
/** The engine's popularity prior weight (docs/engine.md), folded into the last row of W. */
export const POP_WEIGHT = 0.1;

// onnx.proto: TensorProto.DataType, AttributeProto.AttributeType, TensorProto.DataLocation.
const FLOAT = 1;
const INT64 = 7;
const ATTR_INT = 2;
const EXTERNAL = 1;
const IR_VERSION = 7; // opset 13 needs IR 7
const OPSET = 13; // MatMul-13, TopK-11 (K as an input, `largest`, `sorted`)

/** TensorShapeProto: `dims` are numbers (dim_value) or strings (dim_param). */
function writeShape(dims, pbf) {
  for (const d of dims) {
    pbf.writeMessage(1, (x, p) => (typeof x === 'number' ? p.writeVarintField(1, x) : p.writeStringField(2, x)), d);
  }
}

/** ValueInfoProto of a tensor: name, TypeProto{tensor_type{elem_type, shape}}. */
function writeValueInfo({ name, elemType, dims }, pbf) {
  pbf.writeStringField(1, name);
  pbf.writeMessage(
    2,
    (t, p) =>
      p.writeMessage(
        1,
        (tt, q) => {
          q.writeVarintField(1, tt.elemType);
          q.writeMessage(2, writeShape, tt.dims);
        },
        t,
      ),
    { elemType, dims },
  );
}

/** AttributeProto of an int. */
function writeIntAttribute({ name, value }, pbf) {
  pbf.writeStringField(1, name);
  pbf.writeVarintField(20, ATTR_INT);
  pbf.writeVarintField(3, value);
}

/** NodeProto: inputs, outputs, name, op_type, int attributes. */
function writeNode({ inputs, outputs, name, opType, attributes = [] }, pbf) {
  for (const s of inputs) pbf.writeStringField(1, s);
  for (const s of outputs) pbf.writeStringField(2, s);
  pbf.writeStringField(3, name);
  pbf.writeStringField(4, opType);
  for (const a of attributes) pbf.writeMessage(5, writeIntAttribute, a);
}

/** TensorProto of an f32 initializer whose bytes are in an external file (from byte 0). */
function writeExternalTensor({ name, dims, location, length }, pbf) {
  for (const d of dims) pbf.writeVarintField(1, d);
  pbf.writeVarintField(2, FLOAT);
  pbf.writeStringField(8, name);
  for (const [key, value] of [['location', location], ['offset', '0'], ['length', String(length)]]) {
    pbf.writeMessage(13, (e, p) => (p.writeStringField(1, e.key), p.writeStringField(2, e.value)), { key, value });
  }
  pbf.writeVarintField(14, EXTERNAL);
}

function writeGraph({ n, cols }, pbf) {
  pbf.writeMessage(1, writeNode, { inputs: ['query', 'items'], outputs: ['scores'], name: 'score', opType: 'MatMul' });
  pbf.writeMessage(1, writeNode, {
    inputs: ['scores', 'k'],
    outputs: ['values', 'indices'],
    name: 'top_k',
    opType: 'TopK',
    attributes: [
      { name: 'axis', value: 1 },
      { name: 'largest', value: 1 },
      { name: 'sorted', value: 1 },
    ],
  });
  pbf.writeStringField(2, 'vitrine_bench_top_k');
  pbf.writeMessage(5, writeExternalTensor, { name: 'items', dims: [cols, n], location: ITEMS_FILE, length: 4 * cols * n });
  pbf.writeMessage(11, writeValueInfo, { name: 'query', elemType: FLOAT, dims: [1, cols] });
  pbf.writeMessage(11, writeValueInfo, { name: 'k', elemType: INT64, dims: [1] });
  pbf.writeMessage(12, writeValueInfo, { name: 'values', elemType: FLOAT, dims: [1, 'k'] });
  pbf.writeMessage(12, writeValueInfo, { name: 'indices', elemType: INT64, dims: [1, 'k'] });
}

/**
 * The ONNX model (ModelProto bytes) scoring `n` items with `cols` = d + 1 inputs each: inputs
 * `query` f32 [1, cols] and `k` int64 [1]; outputs `values` f32 [1, k] and `indices` int64 [1, k]
 * (best first); the initializer `items` f32 [cols, n] comes from ITEMS_FILE (4 · cols · n bytes).
 */
export function topKModel({ n, cols }) {
  if (!(Number.isInteger(n) && n >= 1 && Number.isInteger(cols) && cols >= 1)) {
    throw new RangeError(`topKModel: n and cols must be positive integers (got ${n}, ${cols})`);
  }
  const pbf = new PbfWriter();
  pbf.writeVarintField(1, IR_VERSION);
  pbf.writeStringField(2, 'vitrine-bench');
  pbf.writeMessage(7, writeGraph, { n, cols });
  pbf.writeMessage(8, (o, p) => (p.writeStringField(1, ''), p.writeVarintField(2, o.version)), { version: OPSET });
  return pbf.finish().slice();
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
