"""CloudWatch: log groups, metric alarms and the dashboard."""

from __future__ import annotations

import json
from typing import Any, Mapping

from loreweave.ops.aws.resources import Clients, Current, Resource, tag_dict, tag_list


class LogGroupHandler:
    """``log_group``: spec ``{"retention_days"}``; outputs ``arn``."""

    kind = "log_group"

    def read(self, aws: Clients, resource: Resource) -> Current | None:
        logs = aws("logs")
        groups = [g for g in logs.describe_log_groups(logGroupNamePrefix=resource.name)["logGroups"]
                  if g["logGroupName"] == resource.name]
        if not groups:
            return None
        tags = logs.list_tags_log_group(logGroupName=resource.name).get("tags", {})
        state = {"retention_days": groups[0].get("retentionInDays")}
        return Current(state, tags, {"arn": groups[0]["arn"]})

    def create(self, aws: Clients, resource: Resource, spec: Mapping[str, Any]) -> None:
        logs = aws("logs")
        logs.create_log_group(logGroupName=resource.name, tags=dict(resource.tags))
        logs.put_retention_policy(logGroupName=resource.name, retentionInDays=spec["retention_days"])

    def update(self, aws: Clients, resource: Resource, spec: Mapping[str, Any], current: Current) -> None:
        logs = aws("logs")
        logs.put_retention_policy(logGroupName=resource.name, retentionInDays=spec["retention_days"])
        logs.tag_log_group(logGroupName=resource.name, tags=dict(resource.tags))

    def delete(self, aws: Clients, resource: Resource, current: Current) -> None:
        aws("logs").delete_log_group(logGroupName=resource.name)


_ALARM_KEYS = {
    "namespace": "Namespace", "metric": "MetricName", "statistic": "Statistic", "period_s": "Period",
    "evaluation_periods": "EvaluationPeriods", "threshold": "Threshold",
    "comparison": "ComparisonOperator", "missing_data": "TreatMissingData",
}


class AlarmHandler:
    """``metric_alarm``: spec ``{"description", "namespace", "metric", "dimensions", "statistic",
    "period_s", "evaluation_periods", "threshold", "comparison", "missing_data", "topic_arn"}``."""

    kind = "metric_alarm"

    def read(self, aws: Clients, resource: Resource) -> Current | None:
        cloudwatch = aws("cloudwatch")
        alarms = cloudwatch.describe_alarms(AlarmNames=[resource.name], AlarmTypes=["MetricAlarm"])["MetricAlarms"]
        if not alarms:
            return None
        alarm = alarms[0]
        state: dict[str, Any] = {key: alarm.get(aws_key) for key, aws_key in _ALARM_KEYS.items()}
        state["threshold"] = float(state["threshold"])
        state["description"] = alarm.get("AlarmDescription", "")
        state["dimensions"] = tag_dict(alarm.get("Dimensions"), "Name", "Value")
        state["topic_arn"] = (alarm.get("AlarmActions") or [None])[0]
        tags = tag_dict(cloudwatch.list_tags_for_resource(ResourceARN=alarm["AlarmArn"]).get("Tags"))
        return Current(state, tags, {"arn": alarm["AlarmArn"]})

    def create(self, aws: Clients, resource: Resource, spec: Mapping[str, Any]) -> None:
        params = {aws_key: spec[key] for key, aws_key in _ALARM_KEYS.items()}
        aws("cloudwatch").put_metric_alarm(
            AlarmName=resource.name, AlarmDescription=spec["description"],
            Dimensions=[{"Name": k, "Value": v} for k, v in sorted(spec["dimensions"].items())],
            AlarmActions=[spec["topic_arn"]], OKActions=[spec["topic_arn"]],
            Tags=tag_list(resource.tags), **params)

    def update(self, aws: Clients, resource: Resource, spec: Mapping[str, Any], current: Current) -> None:
        self.create(aws, resource, spec)
        aws("cloudwatch").tag_resource(ResourceARN=current.outputs["arn"], Tags=tag_list(resource.tags))

    def delete(self, aws: Clients, resource: Resource, current: Current) -> None:
        aws("cloudwatch").delete_alarms(AlarmNames=[resource.name])


class DashboardHandler:
    """``dashboard``: spec ``{"body": {...}}`` (CloudWatch dashboards take no tags)."""

    kind = "dashboard"

    def read(self, aws: Clients, resource: Resource) -> Current | None:
        cloudwatch = aws("cloudwatch")
        try:
            found = cloudwatch.get_dashboard(DashboardName=resource.name)
        except cloudwatch.exceptions.ResourceNotFound:
            return None
        return Current({"body": json.loads(found["DashboardBody"])}, dict(resource.tags),
                       {"arn": found["DashboardArn"]})

    def create(self, aws: Clients, resource: Resource, spec: Mapping[str, Any]) -> None:
        aws("cloudwatch").put_dashboard(DashboardName=resource.name, DashboardBody=json.dumps(spec["body"]))

    def update(self, aws: Clients, resource: Resource, spec: Mapping[str, Any], current: Current) -> None:
        self.create(aws, resource, spec)

    def delete(self, aws: Clients, resource: Resource, current: Current) -> None:
        aws("cloudwatch").delete_dashboards(DashboardNames=[resource.name])
