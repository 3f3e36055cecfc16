"""deploykit's builder: trains the seed models, or takes yours, exports every artifact, writes the manifest.

The API for your own model (docs/your-model.md): `TensorSpec`, `Dim`, `UserModel` and `export`.
"""

from builder.api import export
from builder.tensors import Dim, TensorSpec
from builder.user_model import UserModel

__version__ = "0.3.0"
__all__ = ["Dim", "TensorSpec", "UserModel", "__version__", "export"]
