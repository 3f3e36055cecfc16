package dev.deploykit;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The command line's tensor file arguments: {@code NAME=FILE} (split at the first {@code =}), a
 * bare {@code FILE} for a model with one such tensor, and a folder holding {@code <name>.npy} for
 * every tensor. Resolves them to a file per tensor name; usage errors are exit 2.
 */
final class TensorArgs {
  private TensorArgs() {}

  /**
   * Files by tensor name. {@code dir} (may be null) supplies {@code dir/<name>.npy} for every name;
   * {@code NAME=FILE} items add or replace names (unknown names are kept, for the caller to
   * report); a bare file needs exactly one tensor name.
   */
  static Map<String, Path> resolve(String role, List<String> items, Path dir, List<String> names) {
    Map<String, Path> out = new LinkedHashMap<>();
    if (dir != null) {
      for (String name : names) {
        out.put(name, dir.resolve(name + ".npy"));
      }
    }
    Map<String, Path> given = new LinkedHashMap<>();
    for (String item : items) {
      int eq = item.indexOf('=');
      String name;
      String file;
      if (eq < 0) {
        if (names.size() != 1) {
          throw DeploykitException.badInput(
              "--" + role + " " + item,
              "a bare file needs a model with one "
                  + role
                  + ", this one has "
                  + names.size()
                  + " ("
                  + String.join(", ", names)
                  + "): use NAME=FILE");
        }
        name = names.get(0);
        file = item;
      } else {
        name = item.substring(0, eq);
        file = item.substring(eq + 1);
      }
      if (name.isEmpty() || file.isEmpty()) {
        throw DeploykitException.badInput("--" + role + " " + item, "want NAME=FILE or FILE");
      }
      if (given.put(name, Path.of(file)) != null) {
        throw DeploykitException.badInput(role + " " + name, "given twice");
      }
    }
    out.putAll(given);
    return out;
  }

  /**
   * Refuses a name the model does not have (outputs and checks; inputs go through {@link
   * InputCheck}).
   */
  static void requireKnown(String role, Map<String, Path> files, List<String> names) {
    for (String name : files.keySet()) {
      if (!names.contains(name)) {
        throw DeploykitException.badInput(
            role + " " + name,
            "unknown "
                + role
                + " \""
                + name
                + "\" (model "
                + role
                + "s: "
                + String.join(", ", names)
                + ")");
      }
    }
  }
}
