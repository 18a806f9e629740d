#!/usr/bin/python3
"""Drives a running JitBroker with python3-grpcio (gRPC C-core), an implementation independent of ours.

Usage: grpc_interop.py STUBS_DIR TARGET IDENTITY_TOKEN[,IDENTITY_TOKEN...]
Each scenario that starts a task uses its own identity token: the broker binds a token to its first task.
Prints one JSON object: scenario name -> observed result. The NUnit test asserts on it.
"""
import json
import sys

import grpc

stubs, target, identities = sys.argv[1], sys.argv[2], sys.argv[3].split(",")
sys.path.insert(0, stubs)
from jitbroker.v1 import broker_pb2 as pb  # noqa: E402
from jb_health import health_pb2  # noqa: E402  (grpc.health.v1, compiled under another name)
from jb_reflection import reflection_pb2 as refl  # noqa: E402  (grpc.reflection.v1alpha subset)

def auth(n):
    return (("authorization", "Bearer " + identities[n]),)


AUTH = auth(0)
SERVICE = "/jitbroker.v1.CredentialBroker/"


def call(channel, method, request, response_type, metadata=AUTH, timeout=10):
    stub = channel.unary_unary(SERVICE + method if not method.startswith("/") else method,
                               request_serializer=lambda m: m.SerializeToString(),
                               response_deserializer=response_type.FromString)
    return stub(request, metadata=metadata, timeout=timeout)


def error(e):
    trailers = dict(e.trailing_metadata() or ())
    return {"code": e.code().name, "details": e.details(), "reason": trailers.get("jitbroker-reason")}


def ticket_request(task, purpose="interop"):
    return pb.RequestCredentialRequest(
        task_id=task, target="https://tickets.internal.example",
        intent=pb.TaskIntent(action="tickets.create", purpose=purpose, tools=["zendesk"], resources=["tickets/7"]))


out = {}
with grpc.insecure_channel(target) as channel:
    # 1. round trip: RequestCredential -> IntrospectCredential -> EndTask -> IntrospectCredential
    issued = call(channel, "RequestCredential", ticket_request("py-task-1"), pb.RequestCredentialResponse)
    active = call(channel, "IntrospectCredential", pb.IntrospectCredentialRequest(token=issued.credential.token),
                  pb.IntrospectCredentialResponse)
    ended = call(channel, "EndTask", pb.EndTaskRequest(task_id="py-task-1"), pb.EndTaskResponse)
    inactive = call(channel, "IntrospectCredential", pb.IntrospectCredentialRequest(token=issued.credential.token),
                    pb.IntrospectCredentialResponse)
    out["roundtrip"] = {
        "lease_id": issued.lease_id, "token_segments": len(issued.credential.token.split(".")),
        "tools": list(issued.scope.tools), "ttl_seconds": issued.granted_ttl.seconds,
        "active_before": active.active, "task_before": active.task_id,
        "end_outcomes": [pb.LeaseOutcome.Outcome.Name(l.outcome) for l in ended.leases],
        "end_lease_ids": [l.lease_id for l in ended.leases],
        "active_after": inactive.active,
    }

    # 2. an error status with a percent-encoded message and a reason trailer
    try:
        denied = ticket_request("py-task-2")
        denied.intent.action = "tickets.delete"
        call(channel, "RequestCredential", denied, pb.RequestCredentialResponse, metadata=auth(1))
        out["denied"] = {"code": "OK"}
    except grpc.RpcError as e:
        out["denied"] = error(e)

    # 3. no identity at all
    try:
        call(channel, "RequestCredential", ticket_request("py-task-3"), pb.RequestCredentialResponse, metadata=())
        out["unauthenticated"] = {"code": "OK"}
    except grpc.RpcError as e:
        out["unauthenticated"] = error(e)

    # 4. unknown method and unknown service
    for name, method in (("unknown_method", SERVICE + "StealCredential"), ("unknown_service", "/evil.v1.Nope/Do")):
        try:
            call(channel, method, pb.EndTaskRequest(task_id="x"), pb.EndTaskResponse)
            out[name] = {"code": "OK"}
        except grpc.RpcError as e:
            out[name] = error(e)

    # 5. a message above the server's 4 MiB receive limit
    try:
        call(channel, "RequestCredential", ticket_request("py-task-5", purpose="x" * (5 * 1024 * 1024)),
             pb.RequestCredentialResponse, metadata=auth(2))
        out["oversized"] = {"code": "OK"}
    except grpc.RpcError as e:
        out["oversized"] = error(e)

    # 6. an already expired deadline: one second in the past. grpc-core keeps deadlines in whole milliseconds, so the
    # 1 us this sent at first, and later 0, could still go out as a deadline up to ~1 ms ahead that a fast broker
    # legitimately met (OK; seen once with 0 on 2026-12-05). A second back no rounding brings forward. What the broker
    # does with a deadline that runs out on the way is DeadlineTests' (raw HTTP/2, grpc-timeout 1u).
    try:
        call(channel, "RequestCredential", ticket_request("py-task-6"), pb.RequestCredentialResponse, metadata=auth(2), timeout=-1)
        out["deadline"] = {"code": "OK"}
    except grpc.RpcError as e:
        out["deadline"] = error(e)

    # 7. the server is still healthy after all of that
    health = channel.unary_unary("/grpc.health.v1.Health/Check",
                                 request_serializer=lambda m: m.SerializeToString(),
                                 response_deserializer=health_pb2.HealthCheckResponse.FromString)
    status = health(health_pb2.HealthCheckRequest(service="jitbroker.v1.CredentialBroker"), timeout=5)
    out["health"] = health_pb2.HealthCheckResponse.ServingStatus.Name(status.status)

    # 8. health Watch: a server stream whose first message is the current status
    watch = channel.unary_stream("/grpc.health.v1.Health/Watch",
                                 request_serializer=lambda m: m.SerializeToString(),
                                 response_deserializer=health_pb2.HealthCheckResponse.FromString)
    stream = watch(health_pb2.HealthCheckRequest(service=""), timeout=10)
    first = next(iter(stream))
    stream.cancel()
    out["watch"] = health_pb2.HealthCheckResponse.ServingStatus.Name(first.status)

    # 9. server reflection lists the services
    info = channel.stream_stream("/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
                                 request_serializer=lambda m: m.SerializeToString(),
                                 response_deserializer=refl.ServerReflectionResponse.FromString)
    replies = info(iter([refl.ServerReflectionRequest(list_services="")]), timeout=10)
    out["reflection"] = sorted(s.name for r in replies for s in r.list_services_response.service)

    # 10. two authorization entries are refused outright
    try:
        call(channel, "IntrospectCredential", pb.IntrospectCredentialRequest(token="x"), pb.IntrospectCredentialResponse,
             metadata=(("authorization", "Bearer " + identities[2]), ("authorization", "Bearer " + identities[2])))
        out["two_authorization"] = {"code": "OK"}
    except grpc.RpcError as e:
        out["two_authorization"] = error(e)

print(json.dumps(out))
