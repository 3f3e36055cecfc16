// A graph rewrite that makes TF.js's Relu compute what TensorFlow (the reference) computes for
// NaN and -Inf, applied to model.json's topology before TF.js loads it on the backends that
// need it. It keeps the original node's name, so its consumers are untouched.

// tfjs-backend-wasm's Relu turns NaN into 0: fused into _FusedMatMul or _FusedConv2D (XNNPACK's
// output clamp; tf.fused.conv2d with activation 'relu' maps a NaN pixel to 0 the same way)
// tf.fused.matMul({a, b, activation: 'relu'}) maps [[NaN, 1]] x I to [[0, 0]], and the
// standalone kernel zeroes NaNs with the sign bit set (the NaN that Inf - Inf gives), while
// TensorFlow (the reference) and TF.js's cpu backend keep NaN.
// tfjs-backend-webgl's Relu is x * (x >= 0), which turns -Inf into NaN (-Inf * 0), where
// TensorFlow gives 0. The contract requires NaN and Inf to match the reference, so on those two
// backends each Relu (fused or not) is rewritten as SelectV2(Less(x, 0), 0, x): Relu for every
// number, NaN kept (NaN < 0 is false), -Inf -> 0. The cpu backend is exact and left alone.
// test/node/wasm_nan.test.js pins the raw wasm kernels' behaviour so we notice when TF.js fixes
// it; the browser test runs the NaN/Inf set on webgl.
export const REWRITE_RELU = new Set(['wasm', 'webgl']);
const FUSED_OPS = new Set(['_FusedMatMul', '_FusedConv2D', 'FusedDepthwiseConv2dNative']);
// fused_ops names are ASCII; btoa/atob exist in the page and in Node (>= 16).
const b64 = (text) => btoa(text);
const unb64 = (text) => atob(text);

/**
 * Returns a copy of the topology with every Relu (standalone, or the activation fused into a
 * _FusedMatMul, _FusedConv2D or FusedDepthwiseConv2dNative) replaced by a NaN-preserving SelectV2(Less(x, 0), ZerosLike(x), x) that keeps
 * the original node's name, so consumers are untouched.
 * @param {any} topology model.json's modelTopology
 */
export function nanSafeRelu(topology) {
  const nodes = [];
  const T = { type: 'DT_FLOAT' };
  const relu = (name, input) => {
    nodes.push({ name: `${name}/deploykit_zeros`, op: 'ZerosLike', input: [input], attr: { T } });
    nodes.push({
      name: `${name}/deploykit_negative`,
      op: 'Less',
      input: [input, `${name}/deploykit_zeros`],
      attr: { T },
    });
    nodes.push({
      name,
      op: 'SelectV2',
      input: [`${name}/deploykit_negative`, `${name}/deploykit_zeros`, input],
      attr: { T },
    });
  };
  for (const node of topology.node || []) {
    const fused = FUSED_OPS.has(node.op) ? (node.attr?.fused_ops?.list?.s || []).map(unb64) : [];
    if (fused.length && fused[fused.length - 1] === 'Relu') {
      const linear = `${node.name}/deploykit_linear`;
      nodes.push({
        ...node,
        name: linear,
        attr: { ...node.attr, fused_ops: { list: { s: fused.slice(0, -1).map(b64) } } },
      });
      relu(node.name, linear);
    } else if (node.op === 'Relu') {
      relu(node.name, node.input[0]);
    } else {
      nodes.push(node);
    }
  }
  return { ...topology, node: nodes };
}
