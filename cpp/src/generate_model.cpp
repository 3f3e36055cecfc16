// TextGenerator on a loaded deploykit::Model: each step is one Model::predict call, so the
// contract's input checks and the artifact's boundary casts apply to it (generate.hpp).
#include "deploykit/generate.hpp"
#include "deploykit/model.hpp"

namespace deploykit {

TextGenerator::TextGenerator(const Model& model)
    : TextGenerator(CharacterModel::of(model.entry()),
                    [&model](const TensorMap& inputs) { return model.predict(inputs); }) {}

}  // namespace deploykit
