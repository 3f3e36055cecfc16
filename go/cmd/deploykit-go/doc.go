// Command deploykit-go runs a deploykit SavedModel through the TensorFlow C API with the
// common client command line of docs/contract.md:
//
//	deploykit-go --manifest M --model ID [--format saved-model]
//	             --input NAME=FILE ... | --input FILE | --input-dir DIR
//	             [--output NAME=FILE ... | --output FILE | --output-dir DIR]
//	             [--check NAME=FILE ... | --check FILE | --check-dir DIR]
//	             [--repeat N] [--warmup K] [--timing t.json] [--allow-unsafe-ops] [--verbose]
//	deploykit-go --manifest M --model ID [--format saved-model] --generate PROMPT --tokens N
//	             [--allow-unsafe-ops] [--verbose]
//	deploykit-go --manifest M --jobs jobs.jsonl [--verbose]
//
// Exit codes: 0 ok, 1 --check mismatch, 2 usage or bad input, 3 the model failed to load,
// failed its integrity/safety check, or the manifest's schema_version is not 2. Errors are
// one line on stderr: "error: <what>: <why>".
//
// deploykit is licensed under the Apache License, Version 2.0 (SPDX-License-Identifier:
// Apache-2.0); see the LICENSE file at the root of the repository.
package main
