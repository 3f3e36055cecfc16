package dev.deploykit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * jax2tf's saved-models wrap a StableHLO module in XlaCallModule. jax 0.10 serializes it for
 * StableHLO 1.15.0 by default, which TF Java 1.1.0's TensorFlow 2.18.0 cannot deserialize; the
 * builder serializes it for 1.8.0 (the newest 2.18 reads, measured), so TF Java runs these models.
 * ModelTest checks their parity on every golden set; this test pins what the module says about
 * itself, which is what the client names if a module it cannot run ever reaches it.
 */
class XlaCallModuleTest {
  @ParameterizedTest
  @ValueSource(strings = {"mlp_flax", "mlp_jax", "wide_flax"})
  void runsJaxModulesSerializedForStableHlo18(String id) {
    Manifest.Artifact artifact =
        Manifest.read(Fixtures.TEST_MANIFEST).model(id).artifactsOf(Model.FORMAT).get(0);
    assertTrue(artifact.containsOps().contains("XlaCallModule"), "the manifest should flag " + id);
    Map<String, Tensor> x = Fixtures.goldenInputs(Fixtures.TEST_MANIFEST, id, "golden");
    try (Model model = Model.load(Fixtures.TEST_MANIFEST, id)) {
      assertEquals(model.entry().outputNames(), java.util.List.copyOf(model.predict(x).keySet()));
    }
  }

  @Test
  void readsTheProducerOfAStableHloModule() {
    // MLIR bytecode: magic "ML\xEFR", a varint version (1 byte here: 0x0D is 6 << 1 | 1), then
    // the NUL-terminated producer string.
    byte[] header = {'M', 'L', (byte) 0xEF, 'R', 0x0D};
    byte[] producer = "StableHLO_v1.8.0\0rest".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
    byte[] module = new byte[header.length + producer.length];
    System.arraycopy(header, 0, module, 0, header.length);
    System.arraycopy(producer, 0, module, header.length, producer.length);
    assertEquals(
        "StableHLO_v1.8.0",
        XlaCallModules.producer(com.google.protobuf.ByteString.copyFrom(module)));
    assertEquals(
        "not MLIR bytecode",
        XlaCallModules.producer(com.google.protobuf.ByteString.copyFromUtf8("garbage")));
  }
}
