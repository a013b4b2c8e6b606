"""Import BFCL's checkers without importing every provider SDK.

Why this module exists: `bfcl_eval.eval_checker.ast_eval.ast_checker` does
`from bfcl_eval.constants.model_config import MODEL_CONFIG_MAPPING`, and `model_config` imports
every model handler, which imports openai, anthropic, google-genai, mistral, cohere, boto3, ...
(bfcl-eval is installed with `--no-deps`, so those imports fail, and we do not want them anyway).
The checker uses the mapping for one thing only: `convert_func_name` asks
`MODEL_CONFIG_MAPPING[model].underscore_to_dot` to undo the "." -> "_" renaming that some
providers force on tool names. We do that renaming ourselves (see `bfcl.py`), so the checker is
given a stand-in mapping that answers `underscore_to_dot=False` for every model name.

The stand-in is placed in `sys.modules` only for the duration of the import and removed
afterwards (the checker keeps its own reference), so a later real import of
`bfcl_eval.constants.model_config` anywhere else in the process is not affected.
The multi-turn checker does not need the stand-in.
"""

from __future__ import annotations

import sys
import types
from collections import defaultdict
from typing import Any

_MODEL_CONFIG = "bfcl_eval.constants.model_config"


def _import_ast_checker() -> Any:
    mapping: defaultdict[str, Any] = defaultdict(
        lambda: types.SimpleNamespace(underscore_to_dot=False)
    )
    existing = sys.modules.get(_MODEL_CONFIG)
    if existing is None:
        stub = types.ModuleType(_MODEL_CONFIG)
        stub.MODEL_CONFIG_MAPPING = mapping  # type: ignore[attr-defined]
        sys.modules[_MODEL_CONFIG] = stub
    try:
        from bfcl_eval.eval_checker.ast_eval import ast_checker as module
    finally:
        if existing is None:
            sys.modules.pop(_MODEL_CONFIG, None)
    # Even if the real module was imported first, the checker must use the stand-in.
    module.MODEL_CONFIG_MAPPING = mapping
    return module


_ast = _import_ast_checker()
ast_checker = _ast.ast_checker

from bfcl_eval.constants.enums import Language  # noqa: E402
from bfcl_eval.eval_checker.multi_turn_eval import multi_turn_utils  # noqa: E402
from bfcl_eval.eval_checker.multi_turn_eval.multi_turn_checker import (  # noqa: E402
    multi_turn_checker,
)

__all__ = ["Language", "ast_checker", "multi_turn_checker", "multi_turn_utils"]
