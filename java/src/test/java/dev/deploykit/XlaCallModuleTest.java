package dev.deploykit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * jax2tf's saved-models wrap a StableHLO module in XlaCallModule. The builder's jax 0.10 writes
 * StableHLO_v1.15.0 bytecode, which TF Java 1.1.0's TensorFlow 2.18.0 cannot deserialize: the
 * client refuses at load with exit 3 and names the op, its version and the bytecode version. (If a
 * future TF Java runs these, this test fails and the README's finding must be updated.)
 */
class XlaCallModuleTest {
  @ParameterizedTest
  @ValueSource(strings = {"mlp_flax", "mlp_jax", "wide_flax"})
  void refusesWithASpecificIncompatibilityError(String id) {
    Manifest.Artifact artifact =
        Manifest.read(Fixtures.TEST_MANIFEST).model(id).artifactsOf(Model.FORMAT).get(0);
    assertTrue(artifact.containsOps().contains("XlaCallModule"), "the manifest should flag " + id);
    DeploykitException e =
        assertThrows(DeploykitException.class, () -> Model.load(Fixtures.TEST_MANIFEST, id));
    assertEquals(3, e.exitCode());
    String msg = e.getMessage();
    assertTrue(
        msg.startsWith(
            id
                + "/saved-model: XlaCallModule (serialization version 9, module bytecode"
                + " StableHLO_v"),
        msg);
    assertTrue(
        msg.contains(
            "cannot run on TF Java 1.1.0 (TensorFlow 2.18.0): Cannot deserialize computation"),
        msg);
    assertEquals(1, msg.lines().count());
  }
}
