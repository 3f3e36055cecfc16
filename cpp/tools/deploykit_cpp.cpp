// deploykit-cpp: the demo CLI (launched as bin/deploykit-cpp). See deploykit/cli.hpp.
#include <iostream>
#include <string>
#include <vector>

#include "deploykit/cli.hpp"

int main(int argc, char** argv) {
  const std::vector<std::string> args(argv + 1, argv + argc);
  const int code = deploykit::cli::main(args, std::cout, std::cerr);
  std::cout.flush();
  return code;
}
