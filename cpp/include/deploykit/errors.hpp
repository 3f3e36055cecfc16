// The two failure classes of the client contract (docs/contract.md, "The client command line").
//
// Every error message reads "<what>: <why>" on one line; the CLI prints it as
// "error: <message>" and maps the class to its exit code.
#pragma once

#include <stdexcept>

namespace deploykit {

// Bad input, exit code 2: a missing or malformed file (.npy, manifest), a wrong
// shape or dtype, an unknown model or format, a usage error.
class InputError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The model failed its integrity check (sha256, size, symlink), failed to load,
// or failed while running: exit code 3.
class ModelError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The manifest's schema_version is not the one this client reads: exit code 3.
class VersionError : public ModelError {
 public:
  using ModelError::ModelError;
};

}  // namespace deploykit
