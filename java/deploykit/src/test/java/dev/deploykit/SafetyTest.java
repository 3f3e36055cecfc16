package dev.deploykit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonObject;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.tensorflow.proto.MetaGraphDef;
import org.tensorflow.proto.NodeDef;
import org.tensorflow.proto.SavedModel;

/** The op deny-list: what is refused, what is not, and the deny-list's own integrity. */
class SafetyTest {
  @TempDir Path tmp;

  @Test
  void refusesTheReadFileFixture() {
    DeploykitException e =
        assertThrows(
            DeploykitException.class,
            () -> Model.load(Fixtures.UNSAFE_MANIFEST, "unsafe_readfile"));
    assertEquals(3, e.exitCode());
    assertTrue(e.getMessage().contains("ReadFile"), e.getMessage());
    assertTrue(e.getMessage().contains("--allow-unsafe-ops"), e.getMessage());
  }

  @Test
  void runsTheReadFileFixtureWhenAllowedAndMatchesItsGolden() {
    try (Model model =
        Model.load(Fixtures.UNSAFE_MANIFEST, "unsafe_readfile", new Model.Options(true))) {
      assertEquals(List.of("ReadFile"), model.allowedUnsafeOps());
      Map<String, Tensor> y =
          model.predict(
              Fixtures.goldenInputs(Fixtures.UNSAFE_MANIFEST, "unsafe_readfile", "golden"));
      Fixtures.goldenExpected(Fixtures.UNSAFE_MANIFEST, "unsafe_readfile", "golden")
          .forEach((name, expected) -> ModelTest.assertParity(model, name, expected, y.get(name)));
    }
  }

  /** SaveV2/RestoreV2 are in these graphs (the saver), but not reachable from the signature. */
  @ParameterizedTest
  @ValueSource(strings = {"mlp_keras", "wide_keras", "mlp_flax", "mlp_jax", "wide_flax"})
  void saverOpsOutsideTheSignatureAreNotReachable(String id) throws IOException {
    Manifest m = Manifest.read(Fixtures.TEST_MANIFEST);
    Path dir = m.resolve(m.model(id).artifactsOf(Model.FORMAT).get(0).path());
    MetaGraphDef mg =
        SavedModel.parseFrom(Files.readAllBytes(dir.resolve("saved_model.pb"))).getMetaGraphs(0);
    Set<String> everywhere =
        mg.getGraphDef().getNodeList().stream().map(NodeDef::getOp).collect(Collectors.toSet());
    mg.getGraphDef()
        .getLibrary()
        .getFunctionList()
        .forEach(f -> f.getNodeDefList().forEach(n -> everywhere.add(n.getOp())));
    assertTrue(
        everywhere.containsAll(Set.of("SaveV2", "RestoreV2")), id + " has no saver? " + everywhere);

    List<String> roots =
        mg.getSignatureDefOrThrow("serving_default").getOutputsMap().values().stream()
            .map(t -> t.getName())
            .toList();
    Set<String> reachable =
        OpSafety.reachable(mg.getGraphDef(), roots).stream()
            .map(OpSafety.Node::op)
            .collect(Collectors.toSet());
    assertFalse(
        reachable.contains("SaveV2") || reachable.contains("RestoreV2"), id + ": " + reachable);
    assertTrue(
        reachable.contains("MatMul") || reachable.contains("XlaCallModule"),
        id + ": the walk reached no compute: " + reachable);
  }

  @Test
  void keras_models_load() {
    for (String id : new String[] {"mlp_keras", "wide_keras"}) {
      try (Model model = Model.load(Fixtures.TEST_MANIFEST, id)) {
        assertTrue(model.allowedUnsafeOps().isEmpty());
      }
    }
  }

  @Test
  void refusesAMissingOrAlteredDenyList() throws IOException {
    Path manifest = Fixtures.copyModel(Fixtures.TEST_MANIFEST, "mlp_keras", tmp, doc -> {});
    Files.writeString(tmp.resolve("unsafe_ops.json"), "{\"version\": 1, \"ops\": []}");
    DeploykitException altered =
        assertThrows(DeploykitException.class, () -> Model.load(manifest, "mlp_keras"));
    assertEquals(3, altered.exitCode());
    assertTrue(altered.getMessage().contains("sha256 mismatch"), altered.getMessage());

    Files.delete(tmp.resolve("unsafe_ops.json"));
    DeploykitException missing =
        assertThrows(DeploykitException.class, () -> Model.load(manifest, "mlp_keras"));
    assertEquals(3, missing.exitCode());
    assertTrue(missing.getMessage().contains("missing"), missing.getMessage());
  }

  @Test
  void refusesAManifestWithoutADenyList() {
    Path manifest =
        Fixtures.copyModel(
            Fixtures.TEST_MANIFEST, "mlp_keras", tmp, (JsonObject doc) -> doc.remove("safety"));
    DeploykitException e =
        assertThrows(DeploykitException.class, () -> Model.load(manifest, "mlp_keras"));
    assertEquals(3, e.exitCode());
    assertTrue(e.getMessage().contains("safety.unsafe_ops"), e.getMessage());
  }
}
