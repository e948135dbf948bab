"""CDK app for ppstack (docs/operations.md#deploying-to-aws; infra/ imports names from
ppstack.settings)."""

from ppstack_infra.config import StackConfig
from ppstack_infra.stack import PpstackStack

__all__ = ["PpstackStack", "StackConfig"]
