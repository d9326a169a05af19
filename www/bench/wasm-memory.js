// The size of another library's WebAssembly memory, which it does not expose (ONNX Runtime Web
// creates its Memory inside its Emscripten glue): watchWasmMemories() wraps
// WebAssembly.instantiate / instantiateStreaming so that the Memory objects of every module
// instantiated afterwards (imported, as Emscripten's threaded builds do, or exported) are recorded.

/** Starts recording; returns {bytes(): the recorded memories' current total size, count, stop()}. */
export function watchWasmMemories() {
  const memories = new Set();
  const record = (imports, instance) => {
    for (const ns of Object.values(imports ?? {})) {
      for (const v of Object.values(ns ?? {})) if (v instanceof WebAssembly.Memory) memories.add(v);
    }
    for (const v of Object.values(instance?.exports ?? {})) if (v instanceof WebAssembly.Memory) memories.add(v);
  };
  const { instantiate, instantiateStreaming } = WebAssembly;
  WebAssembly.instantiate = async function (source, imports, ...rest) {
    const r = await instantiate.call(this, source, imports, ...rest);
    record(imports, r instanceof WebAssembly.Instance ? r : r.instance);
    return r;
  };
  WebAssembly.instantiateStreaming = async function (source, imports, ...rest) {
    const r = await instantiateStreaming.call(this, source, imports, ...rest);
    record(imports, r.instance);
    return r;
  };
  return {
    bytes: () => [...memories].reduce((sum, m) => sum + m.buffer.byteLength, 0),
    get count() {
      return memories.size;
    },
    stop() {
      Object.assign(WebAssembly, { instantiate, instantiateStreaming });
    },
  };
}
