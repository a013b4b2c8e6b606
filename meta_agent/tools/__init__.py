"""The meta-agent's tools: harness-side functions its graph calls, each returning the text the
model reads and refusing with `ToolError` (whose message is the tool's result).

- `FileTools` (files.py): list, read and grep over the view and the candidate; write, edit and
  delete in the candidate only. Path rules: `confine.py`.
- `DigestTools` (digest.py): deterministic digests of the TRAIN runs in the view (overview,
  failures, contrast, trace, diff_code, diff_traces); no model involved.
"""

from meta_agent.tools.confine import MAX_RESULT_CHARS, Sandbox, ToolError
from meta_agent.tools.digest import DigestTools
from meta_agent.tools.files import FileTools

__all__ = ["MAX_RESULT_CHARS", "DigestTools", "FileTools", "Sandbox", "ToolError"]
