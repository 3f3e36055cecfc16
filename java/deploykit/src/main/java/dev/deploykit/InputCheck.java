package dev.deploykit;

import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The contract's input checks, in its order, before any runtime call: every input given once and no
 * unknown name; dtype; rank; fixed dims; dynamic dims inside their range and consistent across
 * inputs; boundary casts that fit. A failure is exit 2, {@code input <name>: <why>}.
 */
public final class InputCheck {
  private InputCheck() {}

  /**
   * Checks {@code inputs} against the model's specs and the artifact's boundary casts (none if
   * null).
   */
  public static void check(
      Manifest.ModelEntry model, Manifest.Artifact artifact, Map<String, Tensor> inputs) {
    if (!conforms(model, inputs)) {
      checkSpecs(model, inputs);
    }
    if (artifact != null && !artifact.boundaryDtypes().isEmpty()) {
      for (TensorSpec spec : model.inputs()) {
        DType to = artifact.boundaryDtypes().get(spec.name());
        if (to != null && to != spec.dtype()) {
          BoundaryCast.checkFits(spec.name(), inputs.get(spec.name()), to);
        }
      }
    }
  }

  /**
   * Whether {@code inputs} pass every check but the boundary casts' fit: the per-call path, which
   * allocates nothing. False means {@link #checkSpecs} finds the first failure in the contract's
   * order and throws it.
   */
  static boolean conforms(Manifest.ModelEntry model, Map<String, Tensor> inputs) {
    List<TensorSpec> specs = model.inputs();
    if (inputs.size() != specs.size()) {
      return false;
    }
    for (int s = 0; s < specs.size(); s++) {
      TensorSpec spec = specs.get(s);
      for (int before = 0; before < s; before++) {
        if (specs.get(before).name().equals(spec.name())) {
          return false; // a name twice in the specs: the same size would not mean the same names
        }
      }
      Tensor t = inputs.get(spec.name());
      if (t == null || t.dtype() != spec.dtype() || t.rank() != spec.rank()) {
        return false;
      }
      List<TensorSpec.Dim> shape = spec.shape();
      for (int i = 0; i < shape.size(); i++) {
        TensorSpec.Dim d = shape.get(i);
        long size = t.dim(i);
        if (d.dynamic()
            ? !model.range(d.name()).contains(size) || size != firstSize(specs, inputs, d.name())
            : size != d.size()) {
          return false;
        }
      }
    }
    return true;
  }

  /** The size of the first dim named {@code dim} in the inputs, in spec order. */
  private static long firstSize(List<TensorSpec> specs, Map<String, Tensor> inputs, String dim) {
    for (TensorSpec spec : specs) {
      for (int i = 0; i < spec.rank(); i++) {
        if (dim.equals(spec.shape().get(i).name())) {
          return inputs.get(spec.name()).dim(i);
        }
      }
    }
    throw new IllegalStateException("no dim " + dim);
  }

  /** Every check but the boundary casts', in the contract's order: throws the first failure. */
  private static void checkSpecs(Manifest.ModelEntry model, Map<String, Tensor> inputs) {
    List<String> names = model.inputNames();
    for (String given : inputs.keySet()) {
      if (!names.contains(given)) {
        throw DeploykitException.badInput(
            "input " + given,
            "unknown input \"" + given + "\" (model inputs: " + String.join(", ", names) + ")");
      }
    }
    for (String name : names) {
      if (!inputs.containsKey(name)) {
        throw DeploykitException.badInput(
            "input " + name, "missing (model inputs: " + String.join(", ", names) + ")");
      }
    }
    for (TensorSpec spec : model.inputs()) {
      Tensor t = inputs.get(spec.name());
      if (t.dtype() != spec.dtype()) {
        throw DeploykitException.badInput(
            "input " + spec.name(), "expected " + spec.dtype() + ", got " + t.dtype());
      }
    }
    for (TensorSpec spec : model.inputs()) {
      Tensor t = inputs.get(spec.name());
      if (t.rank() != spec.rank()) {
        throw DeploykitException.badInput(
            "input " + spec.name(),
            "rank is "
                + t.rank()
                + " "
                + Tensor.shapeString(t.shape())
                + ", expected "
                + spec.rank()
                + " "
                + spec.shape());
      }
    }
    for (TensorSpec spec : model.inputs()) {
      Tensor t = inputs.get(spec.name());
      for (int i = 0; i < spec.rank(); i++) {
        TensorSpec.Dim d = spec.shape().get(i);
        if (!d.dynamic() && t.dim(i) != d.size()) {
          throw DeploykitException.badInput(
              "input " + spec.name(), "dim " + i + " is " + t.dim(i) + ", expected " + d.size());
        }
      }
    }
    Map<String, Long> seen = new HashMap<>();
    Map<String, String> seenIn = new HashMap<>();
    for (TensorSpec spec : model.inputs()) {
      Tensor t = inputs.get(spec.name());
      for (int i = 0; i < spec.rank(); i++) {
        TensorSpec.Dim d = spec.shape().get(i);
        if (!d.dynamic()) {
          continue;
        }
        TensorSpec.DimRange range = model.range(d.name());
        if (!range.contains(t.dim(i))) {
          throw DeploykitException.badInput(
              "input " + spec.name(),
              "dim " + i + " (" + d.name() + ") is " + t.dim(i) + ", outside " + range);
        }
        Long before = seen.putIfAbsent(d.name(), t.dim(i));
        seenIn.putIfAbsent(d.name(), spec.name());
        if (before != null && before != t.dim(i)) {
          throw DeploykitException.badInput(
              "input " + spec.name(),
              "dim "
                  + i
                  + " ("
                  + d.name()
                  + ") is "
                  + t.dim(i)
                  + ", but input "
                  + seenIn.get(d.name())
                  + " has "
                  + before);
        }
      }
    }
  }

  /** The inputs cast to the artifact's boundary dtypes (after {@link #check}); others as given. */
  public static Map<String, Tensor> toBoundary(
      Manifest.ModelEntry model, Manifest.Artifact artifact, Map<String, Tensor> inputs) {
    if (artifact.boundaryDtypes().isEmpty()) {
      return inputs;
    }
    Map<String, Tensor> out = new LinkedHashMap<>();
    for (TensorSpec spec : model.inputs()) {
      DType to = artifact.boundaryDtypes().get(spec.name());
      Tensor t = inputs.get(spec.name());
      out.put(
          spec.name(), to == null || to == t.dtype() ? t : BoundaryCast.cast(spec.name(), t, to));
    }
    return out;
  }
}
