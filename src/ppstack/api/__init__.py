"""Layer 5: thin API handlers (boto3 + standard library only), OpenAPI, local HTTP adapter."""
