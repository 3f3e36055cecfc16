package example;

import dev.deploykit.Compare;
import dev.deploykit.Manifest;
import dev.deploykit.Model;
import dev.deploykit.Npy;
import dev.deploykit.Tensor;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Loads each model named on the command line from a deploykit manifest, predicts its golden inputs
 * and compares every output with the golden reference at the artifact's tolerance.
 *
 * <p>Usage: {@code Predict MANIFEST MODEL...}; exit 0 when every output passes, 1 otherwise.
 */
public final class Predict {
  private Predict() {}

  public static void main(String[] args) {
    Manifest manifest = Manifest.read(Path.of(args[0]));
    boolean ok = true;
    for (int i = 1; i < args.length; i++) {
      ok &= check(manifest, args[i]);
    }
    System.exit(ok ? 0 : 1);
  }

  private static boolean check(Manifest manifest, String id) {
    Manifest.Golden golden = manifest.model(id).goldenSet("golden").orElseThrow();
    Map<String, Tensor> inputs = new LinkedHashMap<>();
    golden.inputs().forEach((name, file) -> inputs.put(name, Npy.read(manifest.resolve(file))));
    boolean ok = true;
    try (Model model = Model.load(manifest, id, Model.Options.DEFAULT)) {
      Map<String, Tensor> outputs = model.predict(inputs);
      for (Map.Entry<String, String> e : golden.expected().entrySet()) {
        Manifest.Tol tol = model.artifact().toleranceFor(e.getKey());
        Tensor expected = Npy.read(manifest.resolve(e.getValue()));
        Compare.Result r =
            Compare.compare(expected, outputs.get(e.getKey()), tol.atol(), tol.rtol());
        System.out.printf(
            "consumer %s/%s: %s max_abs=%.3e (atol %s rtol %s)%n",
            id, e.getKey(), r.passed() ? "pass" : "FAIL", r.maxAbs(), tol.atol(), tol.rtol());
        ok &= r.passed();
      }
    }
    return ok;
  }
}
