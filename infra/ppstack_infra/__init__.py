"""CDK app for ppstack (DESIGN.md "Package layout": infra/ imports names from ppstack.settings)."""

from ppstack_infra.config import StackConfig
from ppstack_infra.stack import PpstackStack

__all__ = ["PpstackStack", "StackConfig"]
