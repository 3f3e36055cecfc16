// deploykit_consumer: a program outside this repository's build that links the installed
// deploykit package (find_package(deploykit CONFIG)) and checks one model against its
// golden sets through the public API alone.
//
//   deploykit_consumer [MANIFEST [MODEL [FORMAT]]]
//
// MANIFEST defaults to $DEPLOYKIT_TEST_MANIFEST, MODEL to mlp_torch, FORMAT to
// torchscript-trace. Prints one line per golden set and output; exits 0 when every output
// is within the artifact's tolerance, 1 when one is not, 2 on a usage or input error
// (InputError), 3 when the model cannot load or run (ModelError).
#include <cstdlib>
#include <exception>
#include <iostream>
#include <string>

#include "deploykit/compare.hpp"
#include "deploykit/errors.hpp"
#include "deploykit/manifest.hpp"
#include "deploykit/model.hpp"
#include "deploykit/npy.hpp"

namespace {

int check_model(const std::string& manifest_path, const std::string& model_id, const std::string& format_name) {
  const auto format = deploykit::parse_format(format_name);
  if (!format)
    throw deploykit::InputError("format '" + format_name + "': not one of torchscript-script, torchscript-trace, aoti");
  const auto manifest = deploykit::Manifest::read(manifest_path);
  const auto model = deploykit::Model::load(manifest, model_id, *format);
  const deploykit::Artifact& artifact = *model.entry().find_artifact(format_name);

  int status = 0;
  for (const deploykit::GoldenSet& set : model.entry().golden) {
    deploykit::TensorMap inputs;
    for (const auto& [name, path] : set.inputs) inputs.emplace(name, deploykit::read_npy(path));
    const deploykit::TensorMap outputs = model.predict(inputs);
    for (const auto& [name, path] : set.expected) {
      const deploykit::Tolerance tol = artifact.tolerance_for(name);
      const deploykit::CompareResult r =
          deploykit::compare(deploykit::read_npy(path), outputs.at(name), tol.atol, tol.rtol);
      std::cout << model_id << '/' << format_name << '/' << set.name << ' ' << name << ": "
                << (r.passed ? "pass" : "FAIL") << " max_abs=" << r.max_abs << " mismatches=" << r.mismatches << '/'
                << r.count << '\n';
      if (!r.passed) status = 1;
    }
  }
  std::cout << deploykit::libtorch_version() << '\n';
  return status;
}

}  // namespace

int main(int argc, char** argv) {
  const char* env = std::getenv("DEPLOYKIT_TEST_MANIFEST");
  const std::string manifest = argc > 1 ? argv[1] : (env != nullptr ? env : "");
  if (manifest.empty() || argc > 4) {
    std::cerr << "usage: deploykit_consumer [MANIFEST [MODEL [FORMAT]]] (MANIFEST defaults to "
                 "$DEPLOYKIT_TEST_MANIFEST)\n";
    return 2;
  }
  try {
    return check_model(manifest, argc > 2 ? argv[2] : "mlp_torch", argc > 3 ? argv[3] : "torchscript-trace");
  } catch (const deploykit::InputError& e) {
    std::cerr << "error: " << e.what() << '\n';
    return 2;
  } catch (const deploykit::ModelError& e) {
    std::cerr << "error: " << e.what() << '\n';
    return 3;
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << '\n';
    return 1;
  }
}
