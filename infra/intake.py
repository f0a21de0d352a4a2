"""The downtime intake in the DR region: a KMS-encrypted DynamoDB table and a Lambda (the same
FastAPI app, through Mangum) behind an API Gateway HTTP API. Needs nothing from the primary
region or the CRM; its URL goes into the inventory as `intake.url`.

The function's code is the project's package with its dependencies (`code_path`, a zip built
with `pip install --target`); the function may only put items and make data keys: it never
reads a stored request back.
"""

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra.iam import assume_role_policy, document, statement
from infra.settings import Deployment

HASH_KEY = "request_id"
HANDLER = "outage.intake.service.lambda_handler"
THROTTLE_RATE = 500.0  # requests/s across all clients (each client is also limited by the app)
THROTTLE_BURST = 1000


@dataclass(frozen=True)
class DowntimeIntakeArgs:
    deployment: Deployment
    kms_key_arn: pulumi.Input[str]
    code_path: str = "build/intake-lambda.zip"
    rate_per_minute: int = 30


class DowntimeIntake(pulumi.ComponentResource):
    """Table, function, role and HTTP API of the downtime intake."""

    table: aws.dynamodb.Table
    function: aws.lambda_.Function
    api: aws.apigatewayv2.Api
    url: pulumi.Output[str]

    def __init__(self, name: str, args: DowntimeIntakeArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("crm-dr:infra:DowntimeIntake", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        prefix = args.deployment.prefix
        self.table = aws.dynamodb.Table(
            f"{name}-table",
            name=f"{prefix}-intake",
            billing_mode="PAY_PER_REQUEST",
            hash_key=HASH_KEY,
            attributes=[aws.dynamodb.TableAttributeArgs(name=HASH_KEY, type="S")],
            server_side_encryption=aws.dynamodb.TableServerSideEncryptionArgs(enabled=True,
                                                                              kms_key_arn=args.kms_key_arn),
            point_in_time_recovery=aws.dynamodb.TablePointInTimeRecoveryArgs(enabled=True),
            deletion_protection_enabled=True,
            opts=child,
        )
        role = self._role(name, args)
        logs = aws.cloudwatch.LogGroup(f"{name}-logs", name=f"/aws/lambda/{prefix}-intake", retention_in_days=30,
                                       opts=child)
        self.function = aws.lambda_.Function(
            f"{name}-function",
            name=f"{prefix}-intake",
            runtime="python3.11",
            handler=HANDLER,
            role=role.arn,
            code=pulumi.FileArchive(args.code_path),
            memory_size=512,
            timeout=10,
            environment=aws.lambda_.FunctionEnvironmentArgs(variables={
                "CRMDR_INTAKE_TABLE": self.table.name,
                "CRMDR_INTAKE_KMS_KEY": args.kms_key_arn,
                "CRMDR_INTAKE_RATE": str(args.rate_per_minute),
            }),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[logs]),
        )
        self.api = self._http_api(name, prefix)
        # = the API's api_endpoint; spelt out so that it is known before the API exists (and under mocks)
        self.url = pulumi.Output.concat("https://", self.api.id, ".execute-api.",
                                        args.deployment.settings.dr_region, ".amazonaws.com")
        self.register_outputs({"table": self.table.name, "url": self.url, "function": self.function.name})

    def _role(self, name: str, args: DowntimeIntakeArgs) -> aws.iam.Role:
        """Put items and make data keys; nothing else (no read, no delete)."""
        child = pulumi.ResourceOptions(parent=self)
        role = aws.iam.Role(f"{name}-role", assume_role_policy=assume_role_policy("lambda.amazonaws.com"),
                            opts=child)
        policy = pulumi.Output.all(self.table.arn, args.kms_key_arn).apply(lambda values: json.dumps(document(
            statement("StoreRequests", ["dynamodb:PutItem"], [values[0]]),
            statement("EnvelopeKeys", ["kms:GenerateDataKey"], [values[1]]),
            statement("Logs", ["logs:CreateLogStream", "logs:PutLogEvents"], ["*"]),
        )))
        aws.iam.RolePolicy(f"{name}-policy", role=role.id, policy=policy, opts=child)
        return role

    def _http_api(self, name: str, prefix: str) -> aws.apigatewayv2.Api:
        child = pulumi.ResourceOptions(parent=self)
        api = aws.apigatewayv2.Api(f"{name}-api", name=f"{prefix}-intake", protocol_type="HTTP", opts=child)
        integration = aws.apigatewayv2.Integration(
            f"{name}-integration", api_id=api.id, integration_type="AWS_PROXY",
            integration_uri=self.function.invoke_arn, payload_format_version="2.0", opts=child)
        aws.apigatewayv2.Route(f"{name}-route", api_id=api.id, route_key="$default",
                               target=integration.id.apply(lambda i: f"integrations/{i}"), opts=child)
        aws.apigatewayv2.Stage(
            f"{name}-stage", api_id=api.id, name="$default", auto_deploy=True,
            default_route_settings=aws.apigatewayv2.StageDefaultRouteSettingsArgs(
                throttling_rate_limit=THROTTLE_RATE, throttling_burst_limit=THROTTLE_BURST),
            opts=child)
        aws.lambda_.Permission(f"{name}-invoke", action="lambda:InvokeFunction", function=self.function.name,
                               principal="apigateway.amazonaws.com",
                               source_arn=api.execution_arn.apply(lambda arn: f"{arn}/*/*"), opts=child)
        return api
