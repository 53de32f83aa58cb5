#!/usr/bin/env python3
# examples/python/app.py: the MultiAzFleet example as a Python user writes it - a web fleet over every AZ, replaced
# rather than repaired, asleep at night and guarded against launch loops - next to a replicated MySQL in the VPC's
# isolated subnets that only the fleet can reach. Synthesize it with no AWS account: cdk synth (see README.md here).
import aws_cdk as cdk
from aws_cdk import aws_autoscaling as autoscaling
from aws_cdk import aws_ec2 as ec2
from constructs import Construct

from resilient_fleet import FleetScheduledCapacity, MultiAzFleet, ReplicatedMysql


class WebStack(cdk.Stack):
    def __init__(self, scope: Construct, construct_id: str, **kwargs) -> None:
        super().__init__(scope, construct_id, **kwargs)

        # Public, private-with-egress and isolated subnets: ReplicatedMysql puts the databases in the isolated ones.
        vpc = ec2.Vpc(
            self,
            "Vpc",
            max_azs=3,
            subnet_configuration=[
                ec2.SubnetConfiguration(name="Public", subnet_type=ec2.SubnetType.PUBLIC),
                ec2.SubnetConfiguration(name="App", subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS),
                ec2.SubnetConfiguration(name="Data", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED),
            ],
        )

        fleet = MultiAzFleet(
            self,
            "Web",
            vpc=vpc,
            # An AMI built as an artefact (Packer, EC2 Image Builder), or any IMachineImage.
            machine_image=ec2.MachineImage.generic_linux({"eu-west-1": "ami-0123456789abcdef0"}),
            code_deploy=True,  # application + deployment group, rollback on failure
            min_capacity=0,
            max_capacity=6,
            time_zone="Europe/Dublin",
            schedule=[
                FleetScheduledCapacity(
                    name="MorningStart",
                    schedule=autoscaling.Schedule.cron(week_day="MON-FRI", hour="7", minute="0"),
                    min_capacity=3,
                    desired_capacity=3,
                ),
                FleetScheduledCapacity(
                    name="NightlyStop",
                    schedule=autoscaling.Schedule.cron(week_day="MON-FRI", hour="20", minute="0"),
                    min_capacity=0,
                    desired_capacity=0,
                ),
            ],
        )
        fleet.add_user_data("dnf install -y nginx", "systemctl enable --now nginx")  # before the CodeDeploy agent starts
        fleet.guard_launch_loops()

        db = ReplicatedMysql(self, "Db", vpc=vpc, cluster_name="shop")
        db.connections.allow_default_port_from(fleet.connections, "the web fleet")


app = cdk.App()
# No env: the stack is environment-agnostic and synthesizes with no credentials and no cdk.context.json
# (CDK then assumes two AZs). With a fixed env, answer the AZ lookup in cdk.context.json or synth once with credentials.
WebStack(app, "PythonWebFleet")
app.synth()
