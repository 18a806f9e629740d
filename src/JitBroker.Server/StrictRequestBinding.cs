using Google.Protobuf;
using Grpc.Core;
using JitBroker.Core;
using JitBroker.Protocol.V1;

namespace JitBroker.Server;

/// <summary>
/// Binds the generated services with request marshallers that refuse a body which is not the declared message:
/// INVALID_ARGUMENT with reason <see cref="Reasons.RequestMalformed"/>, instead of grpc-dotnet's UNKNOWN ("Exception
/// was thrown by handler") and an error log with a stack trace for what is only bad input. grpc-dotnet finds these
/// bind methods through <see cref="BindServiceMethodAttribute"/> on the service classes; methods are still
/// resolved by name on the service, so nothing else about the binding changes.
/// </summary>
internal static class StrictRequestBinding
{
    // The second parameter is the generated base type on purpose: grpc-dotnet resolves each method on the service by
    // name and accepts it only when it overrides a method declared by that type.
    public static void BindCredentialBroker(ServiceBinderBase binder, Protocol.V1.CredentialBroker.CredentialBrokerBase? service) =>
        Protocol.V1.CredentialBroker.BindService(new StrictBinder(binder), service!);

    public static void BindAdmin(ServiceBinderBase binder, BrokerAdmin.BrokerAdminBase? service) =>
        BrokerAdmin.BindService(new StrictBinder(binder), service!);

    private static Method<TRequest, TResponse> Strict<TRequest, TResponse>(Method<TRequest, TResponse> method)
        where TRequest : class
        where TResponse : class
    {
        var inner = method.RequestMarshaller;
        var strict = new Marshaller<TRequest>(inner.ContextualSerializer, context =>
        {
            try
            {
                return inner.ContextualDeserializer(context);
            }
            catch (InvalidProtocolBufferException)
            {
                throw WireErrors.ToRpc(new BrokerException(BrokerFailure.InvalidArgument, Reasons.RequestMalformed,
                    $"The request is not a valid {method.ServiceName}.{method.Name} message."));
            }
        });
        return new Method<TRequest, TResponse>(method.Type, method.ServiceName, method.Name, strict, method.ResponseMarshaller);
    }

    private sealed class StrictBinder(ServiceBinderBase inner) : ServiceBinderBase
    {
        public override void AddMethod<TRequest, TResponse>(Method<TRequest, TResponse> method, UnaryServerMethod<TRequest, TResponse>? handler) =>
            inner.AddMethod(Strict(method), handler);

        public override void AddMethod<TRequest, TResponse>(Method<TRequest, TResponse> method, ClientStreamingServerMethod<TRequest, TResponse>? handler) =>
            inner.AddMethod(Strict(method), handler);

        public override void AddMethod<TRequest, TResponse>(Method<TRequest, TResponse> method, ServerStreamingServerMethod<TRequest, TResponse>? handler) =>
            inner.AddMethod(Strict(method), handler);

        public override void AddMethod<TRequest, TResponse>(Method<TRequest, TResponse> method, DuplexStreamingServerMethod<TRequest, TResponse>? handler) =>
            inner.AddMethod(Strict(method), handler);
    }
}
