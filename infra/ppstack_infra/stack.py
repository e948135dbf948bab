"""The whole ppstack deployment in one stack: storage (layers 1-3), serving (4-5), pipeline."""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Stack
from constructs import Construct

from ppstack_infra.acquisition import Acquisition
from ppstack_infra.config import StackConfig
from ppstack_infra.layers import dependency_layers
from ppstack_infra.pipeline import Pipeline
from ppstack_infra.serving import Serving, source_code
from ppstack_infra.storage import Storage


class PpstackStack(Stack):
    """Environment-agnostic (no account/region lookups), so it synthesizes offline."""

    def __init__(self, scope: Construct, id: str, *, config: StackConfig | None = None,
                 **kwargs: Any) -> None:
        super().__init__(scope, id, **kwargs)
        self.config = config or StackConfig.from_context(self.node.try_get_context)
        code = source_code()
        self.layers = dependency_layers(self, self.config)
        self.storage = Storage(self, "Storage", config=self.config)
        self.serving = Serving(self, "Serving", config=self.config, code=code,
                               layers=[self.layers["boto3"]])
        self.pipeline = Pipeline(self, "Pipeline", config=self.config, storage=self.storage,
                                 serving=self.serving, code=code, layers=self.layers)
        self.acquisition = Acquisition(self, "Acquisition", config=self.config,
                                       storage=self.storage, pipeline=self.pipeline, code=code,
                                       layers=self.layers)
        CfnOutput(self, "ApiUrl", value=self.serving.api.url)
        CfnOutput(self, "ArchiveBucket", value=self.storage.archive.bucket_name)
        CfnOutput(self, "TableBucket", value=self.config.table_bucket_name)
        CfnOutput(self, "AthenaResults", value=self.storage.results_location)
        CfnOutput(self, "StateMachineArn", value=self.pipeline.state_machine.state_machine_arn)
