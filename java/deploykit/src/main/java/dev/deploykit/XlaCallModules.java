package dev.deploykit;

import com.google.protobuf.ByteString;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.stream.Collectors;
import org.tensorflow.proto.AttrValue;

/**
 * What a SavedModel's {@code XlaCallModule} ops (jax2tf's native serialization) say about
 * themselves: the op's serialization {@code version} attribute and the producer string in the
 * header of its serialized StableHLO module (MLIR bytecode: magic {@code ML\xEFR}, a varint
 * bytecode version, then a NUL-terminated producer such as {@code StableHLO_v1.15.0}). Used to name
 * the cause when this TensorFlow cannot run the module.
 */
final class XlaCallModules {
  static final String OP = "XlaCallModule";

  private XlaCallModules() {}

  record Info(String node, long version, String producer) {}

  static List<Info> find(List<OpSafety.Node> reachable) {
    return reachable.stream()
        .filter(n -> n.op().equals(OP))
        .map(
            n -> {
              AttrValue version = n.def().getAttrMap().get("version");
              AttrValue module = n.def().getAttrMap().get("module");
              return new Info(
                  n.name(),
                  version == null ? -1 : version.getI(),
                  module == null ? "unknown" : producer(module.getS()));
            })
        .toList();
  }

  /** e.g. "XlaCallModule (serialization version 9, module bytecode StableHLO_v1.15.0)". */
  static String describe(List<Info> infos) {
    return OP
        + " ("
        + infos.stream()
            .map(i -> "serialization version " + i.version() + ", module bytecode " + i.producer())
            .distinct()
            .collect(Collectors.joining("; "))
        + ")";
  }

  static String producer(ByteString module) {
    byte[] b = module.toByteArray();
    if (b.length < 6 || b[0] != 'M' || b[1] != 'L' || (b[2] & 0xff) != 0xEF || b[3] != 'R') {
      return "not MLIR bytecode";
    }
    // MLIR's varint: the number of trailing zero bits of the first byte, plus one, is its length.
    int start = 4 + Integer.numberOfTrailingZeros(b[4] | 0x100) + 1;
    int end = start;
    while (end < b.length && b[end] != 0 && end - start < 64) {
      end++;
    }
    return start < b.length ? new String(b, start, end - start, StandardCharsets.UTF_8) : "unknown";
  }
}
