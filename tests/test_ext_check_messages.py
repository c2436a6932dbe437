"""The compiled ops raise their argument errors without streaming numbers into an iostream.

On the project's CUDA machine (a g++ that links parts of a newer libstdc++ statically) the first
failing TORCH_CHECK with a number in its message crashed the process (SIGSEGV in the module's own
copy of the number formatting) instead of raising. Every check of cuda_ext/csrc builds its message
with tensor_checks::text (AVATAR_CHECK / AVATAR_CHECK_VALUE); this keeps it that way, and checks
that the messages still read as before.
"""

import re

import pytest
import torch

from cuda_ext import _sources


def test_every_check_builds_its_message_without_a_stream():
    offenders = []
    for path in sorted(_sources.CSRC_DIR.iterdir()):
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if re.search(r"\bTORCH_CHECK\w*\(", line) and not line.startswith("#define AVATAR_CHECK"):
                offenders.append(f"{path.name}:{number}: {line.strip()}")
    assert not offenders, "use AVATAR_CHECK / AVATAR_CHECK_VALUE (tensor_checks.h):\n" + "\n".join(offenders)


@pytest.mark.usefixtures("cpu_extension")
def test_messages_name_sizes_dtypes_and_numbers():
    with pytest.raises(ValueError, match=re.escape("rgb_to_uint8: rgb must be [H, W, 3], got [2, 3, 4]")):
        torch.ops.avatar_ext.rgb_to_uint8(torch.zeros(2, 3, 4))
    from cuda_ext.splat import CameraParams, splat

    camera = CameraParams(torch.eye(4), torch.eye(3), torch.zeros(3), 8, 8, 0.01, 1.0)
    with pytest.raises(ValueError, match="splat: sh has 5 coefficients per channel"):
        splat(torch.zeros(3, 3), torch.zeros(3, 4), torch.zeros(3, 3), torch.zeros(3), torch.zeros(3, 5, 3), camera)
    with pytest.raises(ValueError, match="splat: scales has dtype Double, expected Float"):
        splat(torch.zeros(3, 3), torch.zeros(3, 4), torch.zeros(3, 3, dtype=torch.float64), torch.zeros(3),
              torch.zeros(3, 4, 3), camera)
