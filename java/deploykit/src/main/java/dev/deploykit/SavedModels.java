package dev.deploykit;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import org.tensorflow.proto.MetaGraphDef;
import org.tensorflow.proto.SavedModel;
import org.tensorflow.proto.SignatureDef;
import org.tensorflow.proto.TensorInfo;

/**
 * The checks on a SavedModel before TensorFlow loads it: the artifact's sha256, its meta graph for
 * the manifest's tags, and the serving signature's tensors against the manifest's keys and tensor
 * specs. Every failure is a load failure (exit 3).
 */
final class SavedModels {
  private static final String INIT_OP_SIGNATURE = "__saved_model_init_op";

  private SavedModels() {}

  static void verifySha256(String what, Path dir, String expected) {
    if (!Files.exists(dir)) {
      throw DeploykitException.loadFailed(what, dir + " is missing");
    }
    String actual;
    try {
      actual = Hashing.artifactSha256(dir);
    } catch (IOException e) {
      throw DeploykitException.loadFailed(what, "cannot hash " + dir + ": " + e.getMessage());
    }
    if (!actual.equals(expected)) {
      throw DeploykitException.loadFailed(
          what, "sha256 mismatch: manifest " + expected + ", files " + actual);
    }
  }

  static MetaGraphDef readMetaGraph(String what, Path dir, Set<String> tags) {
    SavedModel savedModel;
    try {
      savedModel = SavedModel.parseFrom(Files.readAllBytes(dir.resolve("saved_model.pb")));
    } catch (IOException e) {
      throw DeploykitException.loadFailed(what, "cannot read saved_model.pb: " + e.getMessage());
    }
    List<String> available = new ArrayList<>();
    for (MetaGraphDef mg : savedModel.getMetaGraphsList()) {
      Set<String> has = new LinkedHashSet<>(mg.getMetaInfoDef().getTagsList());
      if (has.equals(tags)) {
        return mg;
      }
      available.add(String.join(",", has));
    }
    throw DeploykitException.loadFailed(
        what, "no meta graph with tags " + tags + " (has: " + String.join("; ", available) + ")");
  }

  static SignatureDef signature(String what, MetaGraphDef metaGraph, String key) {
    SignatureDef signature = metaGraph.getSignatureDefMap().get(key);
    if (signature == null) {
      throw DeploykitException.loadFailed(
          what,
          "no signature '"
              + key
              + "' (has: "
              + String.join(", ", metaGraph.getSignatureDefMap().keySet())
              + ")");
    }
    return signature;
  }

  /**
   * Checks that the signature has every keyed tensor, with the runtime dtype and a compatible
   * shape.
   */
  static void checkSignature(
      String what, Manifest.ModelEntry model, Manifest.Artifact artifact, SignatureDef signature) {
    for (TensorSpec spec : model.inputs()) {
      checkTensor(
          what,
          "input",
          signature.getInputsMap(),
          artifact.inputKeys().get(spec.name()),
          spec,
          artifact.boundaryDtypes().getOrDefault(spec.name(), spec.dtype()));
    }
    for (TensorSpec spec : model.outputs()) {
      checkTensor(
          what,
          "output",
          signature.getOutputsMap(),
          artifact.outputKeys().get(spec.name()),
          spec,
          artifact.boundaryDtypes().getOrDefault(spec.name(), spec.dtype()));
    }
  }

  private static void checkTensor(
      String what,
      String role,
      Map<String, TensorInfo> tensors,
      String key,
      TensorSpec spec,
      DType runtime) {
    TensorInfo info = tensors.get(key);
    if (info == null) {
      throw DeploykitException.loadFailed(
          what,
          "the signature has no "
              + role
              + " '"
              + key
              + "' for "
              + spec.name()
              + " (has: "
              + String.join(", ", tensors.keySet())
              + ")");
    }
    if (info.getDtype() != TfTensors.dataType(runtime)) {
      throw DeploykitException.loadFailed(
          what, role + " '" + key + "' is " + info.getDtype() + ", the manifest says " + runtime);
    }
    var dims = info.getTensorShape().getDimList();
    if (info.getTensorShape().getUnknownRank()) {
      return;
    }
    boolean ok = dims.size() == spec.rank();
    for (int i = 0; ok && i < dims.size(); i++) {
      TensorSpec.Dim d = spec.shape().get(i);
      ok = d.dynamic() || dims.get(i).getSize() < 0 || dims.get(i).getSize() == d.size();
    }
    if (!ok) {
      throw DeploykitException.loadFailed(
          what,
          role
              + " '"
              + key
              + "' has shape "
              + dims.stream()
                  .map(d -> Long.toString(d.getSize()))
                  .collect(Collectors.joining(", ", "(", ")"))
              + ", the manifest says "
              + spec.shape());
    }
  }

  /** The signature's outputs plus the loader's init ops: everything that runs for a prediction. */
  static List<String> rootTensors(MetaGraphDef metaGraph, SignatureDef signature) {
    List<String> roots = new ArrayList<>();
    signature.getOutputsMap().values().forEach(t -> roots.add(t.getName()));
    SignatureDef init = metaGraph.getSignatureDefMap().get(INIT_OP_SIGNATURE);
    if (init != null) {
      init.getOutputsMap().values().forEach(t -> roots.add(t.getName()));
    }
    for (String collection : List.of("saved_model_main_op", "legacy_init_op")) {
      var def = metaGraph.getCollectionDefMap().get(collection);
      if (def != null) {
        roots.addAll(def.getNodeList().getValueList());
      }
    }
    return roots;
  }
}
