"""Metadata access: a regional REST API, through a VPC link and an internal NLB, to a Fargate metadata service."""

from __future__ import annotations

from aws_cdk import ArnFormat, Duration, RemovalPolicy, Stack
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_kms as kms
from aws_cdk import aws_secretsmanager as sm
from aws_cdk import aws_wafv2 as wafv2
from constructs import Construct

from cdk_app.compliance import suppress
from cdk_app.config import AppConfig
from cdk_app.constructs.logs import encrypted_log_group
from cdk_app.constructs.secrets import API_KEY_FIELD
from cdk_app.constructs.workload import FargateWorkload, container_image
from platform_spec import contract

STAGE_NAME = "v1"
# The API Gateway -> VPC link -> NLB -> task hop is HTTP inside the VPC: CloudFormation offers no
# TlsConfig for REST API methods, so a self-signed backend certificate would be refused. Accepted
# deviation STK-TLS-004 in the catalog; clients reach API Gateway over TLS only.
SERVICE_PORT = contract.API_PORT
LISTENER_PORT = 80

# (resource path, required path parameters, optional query strings)
ROUTES: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...] = (
    ("/health", (), ()),
    ("/videos", (), ("cursor", "limit", "codec")),
    ("/videos/popular", (), ("limit",)),
    ("/videos/{id}", ("id",), ()),
)


class MetadataApi(Construct):
    """Creates `self.rest_api`, `self.service` (FargateWorkload), `self.load_balancer` and the log groups."""

    def __init__(self, scope: Construct, construct_id: str, *, config: AppConfig, vpc: ec2.IVpc,
                 subnets: ec2.SubnetSelection, key: kms.IKey, cluster: ecs.ICluster,
                 environment: dict[str, str], secrets: dict[str, ecs.Secret], api_key_secret: sm.ISecret) -> None:
        super().__init__(scope, construct_id)
        nlb_sg = ec2.SecurityGroup(
            self, "LoadBalancerSecurityGroup", vpc=vpc, security_group_name=config.name("nlb-sg"),
            description="Internal NLB behind the API Gateway VPC link (no inbound rules needed)",
            allow_all_outbound=False,
        )
        self.load_balancer = elbv2.NetworkLoadBalancer(
            self, "LoadBalancer", load_balancer_name=config.name("nlb"), vpc=vpc, vpc_subnets=subnets,
            internet_facing=False, cross_zone_enabled=True, security_groups=[nlb_sg],
            # VPC-link traffic is PrivateLink traffic; with enforcement off it is admitted without an
            # inbound rule, and nothing else can reach this internal NLB.
            enforce_security_group_inbound_rules_on_private_link_traffic=False,
            deletion_protection=False,
        )
        self.service = FargateWorkload(
            self, "Service", config=config, name_key="metadata-api", cluster=cluster, vpc=vpc, subnets=subnets,
            key=key, image=container_image("metadata_api", config.metadata_image_uri),
            environment={**environment, contract.PORT: str(SERVICE_PORT)},
            secrets=secrets,
            health_check=f"python3 -m services.metadata_api.healthcheck {SERVICE_PORT} || exit 1",
            cpu=512, memory_mib=1024, min_tasks=2, max_tasks=10, container_port=SERVICE_PORT,
        )
        listener = self.load_balancer.add_listener("Http", port=LISTENER_PORT, protocol=elbv2.Protocol.TCP)
        self.target_group = listener.add_targets(
            "Service", target_group_name=config.name("target-group"), port=SERVICE_PORT,
            protocol=elbv2.Protocol.TCP,
            targets=[self.service.service.load_balancer_target(container_name="metadata-api",
                                                               container_port=SERVICE_PORT)],
            health_check=elbv2.HealthCheck(protocol=elbv2.Protocol.HTTP, path="/health",
                                           interval=Duration.seconds(15), healthy_threshold_count=2,
                                           unhealthy_threshold_count=2),
            deregistration_delay=Duration.seconds(30),
        )
        suppress(self.load_balancer, "STK-DEV-004", checkov=["CKV_AWS_91"],
                 nag=["AwsSolutions-ELB2", "HIPAA.Security-ELBLoggingEnabled", "NIST.800.53.R5-ELBLoggingEnabled",
                      "PCI.DSS.321-ELBLoggingEnabled"])
        suppress(self.load_balancer, "STK-DEV-001", nag=["HIPAA.Security-ELBDeletionProtectionEnabled",
                                                          "NIST.800.53.R5-ELBDeletionProtectionEnabled"])
        suppress(listener, "STK-DEV-004", nag=[f"{p}-ELBv2ACMCertificateRequired"
                                                for p in ("HIPAA.Security", "NIST.800.53.R5", "PCI.DSS.321")])
        self.service.security_group.add_ingress_rule(
            nlb_sg, ec2.Port.tcp(SERVICE_PORT), "HTTP from the internal NLB only")
        nlb_sg.add_egress_rule(self.service.security_group, ec2.Port.tcp(SERVICE_PORT), "to the metadata tasks")

        self.access_log_group = encrypted_log_group(self, "AccessLogs", config=config, key=key,
                                                    name=config.name("log-api-access"))
        self.rest_api = apigw.RestApi(
            self, "RestApi",
            rest_api_name=config.name("api"),
            description="StreamTech video metadata API",
            # Edge-optimized would route through CloudFront points of presence outside Japan.
            endpoint_types=[apigw.EndpointType.REGIONAL],
            api_key_source_type=apigw.ApiKeySourceType.HEADER,
            cloud_watch_role=True,
            cloud_watch_role_removal_policy=RemovalPolicy.DESTROY,
            deploy_options=apigw.StageOptions(
                stage_name=STAGE_NAME,
                access_log_destination=apigw.LogGroupLogDestination(self.access_log_group),
                access_log_format=apigw.AccessLogFormat.json_with_standard_fields(
                    caller=True, http_method=True, ip=True, protocol=True, request_time=True,
                    resource_path=True, response_length=True, status=True, user=True),
                logging_level=apigw.MethodLoggingLevel.INFO,
                data_trace_enabled=False,  # would log request and response bodies
                metrics_enabled=True,
                tracing_enabled=True,
                throttling_rate_limit=200,
                throttling_burst_limit=400,
            ),
        )
        # API Gateway writes execution logs here; pre-created so they are encrypted, expire and go with the stack.
        self.execution_log_group = encrypted_log_group(
            self, "ExecutionLogs", config=config, key=key,
            name=f"API-Gateway-Execution-Logs_{self.rest_api.rest_api_id}/{STAGE_NAME}")
        self.rest_api.deployment_stage.node.add_dependency(self.execution_log_group)
        stage = self.rest_api.deployment_stage
        suppress(stage, "STK-DEV-006", checkov=["CKV_AWS_120"], nag=[f"{p}-APIGWCacheEnabledAndEncrypted"
                                            for p in ("HIPAA.Security", "NIST.800.53.R5", "PCI.DSS.321")])
        suppress(stage, "STK-DEV-004", nag=[f"{p}-APIGWSSLEnabled" for p in ("HIPAA.Security", "NIST.800.53.R5",
                                                                            "PCI.DSS.321")])
        suppress(self.rest_api.node.find_child("CloudWatchRole"), "STK-DEV-007", nag=["AwsSolutions-IAM4"],
                 applies_to=["Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
                             "AmazonAPIGatewayPushToCloudWatchLogs"])

        validator = self.rest_api.add_request_validator(
            "Validator", request_validator_name=f"params-{config.environment_suffix}",
            validate_request_parameters=True, validate_request_body=True)
        self.vpc_link = apigw.VpcLink(self, "VpcLink", vpc_link_name=config.name("vpc-link"),
                                      targets=[self.load_balancer])
        for path, required, optional in ROUTES:
            resource = self.rest_api.root.resource_for_path(path)
            method_params = {f"method.request.path.{p}": True for p in required}
            method_params.update({f"method.request.querystring.{q}": False for q in optional})
            integration_params = {f"integration.request.path.{p}": f"method.request.path.{p}" for p in required}
            integration_params.update(
                {f"integration.request.querystring.{q}": f"method.request.querystring.{q}" for q in optional})
            integration = apigw.Integration(
                type=apigw.IntegrationType.HTTP_PROXY,
                integration_http_method="GET",
                uri=f"http://{self.load_balancer.load_balancer_dns_name}{path}",
                options=apigw.IntegrationOptions(
                    connection_type=apigw.ConnectionType.VPC_LINK, vpc_link=self.vpc_link,
                    request_parameters=integration_params or None, timeout=Duration.seconds(10)),
            )
            method = resource.add_method("GET", integration, api_key_required=True, request_validator=validator,
                                         request_parameters=method_params or None)
            suppress(method, "STK-DEV-005", nag=["AwsSolutions-APIG4", "AwsSolutions-COG4"])

        self.api_key = self.rest_api.add_api_key(
            "ApiKey", api_key_name=config.name("api-key"),
            value=api_key_secret.secret_value_from_json(API_KEY_FIELD).unsafe_unwrap())
        plan = self.rest_api.add_usage_plan(
            "UsagePlan", name=config.name("usage-plan"),
            throttle=apigw.ThrottleSettings(rate_limit=100, burst_limit=200),
            api_stages=[apigw.UsagePlanPerApiStage(api=self.rest_api, stage=self.rest_api.deployment_stage)])
        plan.add_api_key(self.api_key)
        self.web_acl = self._web_acl(config, key)

    # AWS managed rule groups in evaluation order: common exploits, known bad inputs, bad IP reputation.
    MANAGED_RULE_GROUPS = ("AWSManagedRulesCommonRuleSet", "AWSManagedRulesKnownBadInputsRuleSet",
                           "AWSManagedRulesAmazonIpReputationList")
    RATE_LIMIT_PER_5_MIN = 2000

    def _web_acl(self, config: AppConfig, key: kms.IKey) -> wafv2.CfnWebACL:
        """A regional WAF web ACL on the stage: managed rule groups, a per-IP rate limit, logs to CloudWatch."""
        def visibility(metric: str) -> wafv2.CfnWebACL.VisibilityConfigProperty:
            return wafv2.CfnWebACL.VisibilityConfigProperty(
                cloud_watch_metrics_enabled=True, metric_name=metric, sampled_requests_enabled=True)

        rules = [
            wafv2.CfnWebACL.RuleProperty(
                name=group, priority=index, override_action=wafv2.CfnWebACL.OverrideActionProperty(none={}),
                statement=wafv2.CfnWebACL.StatementProperty(
                    managed_rule_group_statement=wafv2.CfnWebACL.ManagedRuleGroupStatementProperty(
                        vendor_name="AWS", name=group)),
                visibility_config=visibility(group))
            for index, group in enumerate(self.MANAGED_RULE_GROUPS)
        ]
        rules.append(wafv2.CfnWebACL.RuleProperty(
            name="RateLimitPerIp", priority=len(rules), action=wafv2.CfnWebACL.RuleActionProperty(block={}),
            statement=wafv2.CfnWebACL.StatementProperty(rate_based_statement=wafv2.CfnWebACL.RateBasedStatementProperty(
                limit=self.RATE_LIMIT_PER_5_MIN, aggregate_key_type="IP")),
            visibility_config=visibility("RateLimitPerIp")))
        acl = wafv2.CfnWebACL(
            self, "WebAcl", name=config.name("waf-acl"), scope="REGIONAL",
            default_action=wafv2.CfnWebACL.DefaultActionProperty(allow={}),
            visibility_config=visibility(config.name("waf-acl")), rules=rules)
        wafv2.CfnWebACLAssociation(self, "WebAclAssociation", resource_arn=self.rest_api.deployment_stage.stage_arn,
                                   web_acl_arn=acl.attr_arn)
        log_name = config.name("log-waf")
        log_group = encrypted_log_group(self, "WafLogs", config=config, key=key, name=log_name)
        logging = wafv2.CfnLoggingConfiguration(
            self, "WafLogging", resource_arn=acl.attr_arn,
            # WAF wants the log group ARN without the ":*" that LogGroup.log_group_arn carries.
            log_destination_configs=[Stack.of(self).format_arn(
                service="logs", resource="log-group", resource_name=log_name,
                arn_format=ArnFormat.COLON_RESOURCE_NAME)])
        logging.node.add_dependency(log_group)
        return acl
