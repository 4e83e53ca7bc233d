"""SNS: the alarm topic and its e-mail subscriptions."""

from __future__ import annotations

from typing import Any, Mapping

from loreweave.ops.aws.resources import Clients, Current, Resource, tag_dict, tag_list


class TopicHandler:
    """``sns_topic``: spec ``{"emails": [...]}``; outputs ``arn``."""

    kind = "sns_topic"

    def _arn(self, aws: Clients, name: str) -> str:
        return f"arn:aws:sns:{aws.region}:{aws.account}:{name}"

    def read(self, aws: Clients, resource: Resource) -> Current | None:
        sns = aws("sns")
        arn = self._arn(aws, resource.name)
        try:
            sns.get_topic_attributes(TopicArn=arn)
        except sns.exceptions.NotFoundException:
            return None
        emails = sorted(
            sub["Endpoint"]
            for page in sns.get_paginator("list_subscriptions_by_topic").paginate(TopicArn=arn)
            for sub in page["Subscriptions"] if sub["Protocol"] == "email"
        )
        tags = tag_dict(sns.list_tags_for_resource(ResourceArn=arn).get("Tags"))
        return Current({"emails": emails}, tags, {"arn": arn})

    def create(self, aws: Clients, resource: Resource, spec: Mapping[str, Any]) -> None:
        arn = aws("sns").create_topic(Name=resource.name, Tags=tag_list(resource.tags))["TopicArn"]
        for email in spec["emails"]:
            aws("sns").subscribe(TopicArn=arn, Protocol="email", Endpoint=email)

    def update(self, aws: Clients, resource: Resource, spec: Mapping[str, Any], current: Current) -> None:
        sns, arn = aws("sns"), current.outputs["arn"]
        for email in sorted(set(spec["emails"]) - set(current.state["emails"])):
            sns.subscribe(TopicArn=arn, Protocol="email", Endpoint=email)
        for page in sns.get_paginator("list_subscriptions_by_topic").paginate(TopicArn=arn):
            for sub in page["Subscriptions"]:
                confirmed = sub["SubscriptionArn"].startswith("arn:")
                if sub["Protocol"] == "email" and sub["Endpoint"] not in spec["emails"] and confirmed:
                    sns.unsubscribe(SubscriptionArn=sub["SubscriptionArn"])
        sns.tag_resource(ResourceArn=arn, Tags=tag_list(resource.tags))

    def delete(self, aws: Clients, resource: Resource, current: Current) -> None:
        aws("sns").delete_topic(TopicArn=current.outputs["arn"])
