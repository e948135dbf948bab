"""ppstack: S3 raw archive -> staging -> Iceberg SCD2 -> DynamoDB serving -> thin API.

Importing this package is cheap on purpose: the API handlers import ``ppstack.serving.keys`` and
``ppstack.entities`` inside a Lambda bundle that has only boto3 and the standard library.
"""

__version__ = "0.1.0"
