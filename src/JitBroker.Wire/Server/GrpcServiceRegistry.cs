using System.Buffers;
using System.Collections.Frozen;
using Google.Protobuf;

namespace JitBroker.Wire;

/// <summary>
/// The unary methods a server exposes, keyed by their HTTP/2 path <c>/{service}/{method}</c>. Registration
/// is thread-safe and may happen after <see cref="GrpcApplicationBuilderExtensions.UseGrpcWire"/>; lookups
/// on the request path are lock-free.
/// </summary>
public sealed class GrpcServiceRegistry
{
    private readonly Lock _gate = new();
    private FrozenDictionary<string, IUnaryMethod> _methods = FrozenDictionary<string, IUnaryMethod>.Empty;
    private FrozenSet<string> _services = FrozenSet<string>.Empty;

    /// <summary>
    /// Registers a unary method. The handler returns the response, or throws <see cref="RpcException"/> to
    /// end the call with that status; any other exception becomes INTERNAL with a generic message.
    /// </summary>
    /// <param name="serviceFullName">Package-qualified service name, e.g. <c>grpc.health.v1.Health</c>.</param>
    /// <param name="methodName">Method name, e.g. <c>Check</c>.</param>
    /// <param name="parser">Parser of the request message.</param>
    /// <param name="handler">The method implementation.</param>
    /// <exception cref="InvalidOperationException">The method is already registered.</exception>
    public void AddUnary<TRequest, TResponse>(
        string serviceFullName,
        string methodName,
        MessageParser<TRequest> parser,
        Func<TRequest, ServerCallContext, Task<TResponse>> handler)
        where TRequest : IMessage<TRequest>
        where TResponse : IMessage<TResponse>
    {
        ValidateName(serviceFullName, nameof(serviceFullName));
        ValidateName(methodName, nameof(methodName));
        ArgumentNullException.ThrowIfNull(parser);
        ArgumentNullException.ThrowIfNull(handler);

        var path = MethodPath(serviceFullName, methodName);
        lock (_gate)
        {
            if (_methods.ContainsKey(path))
            {
                throw new InvalidOperationException($"Method {path} is already registered.");
            }

            // Copy-on-write: registration is rare, lookups happen on every request.
            var methods = new Dictionary<string, IUnaryMethod>(_methods, StringComparer.Ordinal)
            {
                [path] = new UnaryMethod<TRequest, TResponse>(path, parser, handler),
            };
            _methods = methods.ToFrozenDictionary(StringComparer.Ordinal);
            _services = _services.Append(serviceFullName).ToFrozenSet(StringComparer.Ordinal);
        }
    }

    internal static string MethodPath(string serviceFullName, string methodName) => "/" + serviceFullName + "/" + methodName;

    internal static void ValidateName(string name, string parameterName)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name, parameterName);
        if (name.Contains('/', StringComparison.Ordinal) || name.Any(c => c is <= ' ' or > '~'))
        {
            throw new ArgumentException("Service and method names are printable ASCII without '/' or spaces.", parameterName);
        }
    }

    internal bool TryGetMethod(string? path, out IUnaryMethod method)
    {
        if (path is not null && _methods.TryGetValue(path, out var found))
        {
            method = found;
            return true;
        }

        method = null!;
        return false;
    }

    /// <summary>True when the path names a registered service (used only to word the UNIMPLEMENTED message).</summary>
    internal bool IsKnownService(string? path)
    {
        if (path is null || path.Length < 2)
        {
            return false;
        }

        var slash = path.IndexOf('/', 1);
        return slash > 1 && _services.Contains(path[1..slash]);
    }
}

/// <summary>A registered unary method with its message types erased, so the pipeline is not generic.</summary>
internal interface IUnaryMethod
{
    string Path { get; }

    /// <exception cref="InvalidProtocolBufferException">The bytes are not a valid message.</exception>
    IMessage Parse(ReadOnlySequence<byte> payload);

    Task<IMessage> InvokeAsync(IMessage request, ServerCallContext context);
}

internal sealed class UnaryMethod<TRequest, TResponse>(
    string path,
    MessageParser<TRequest> parser,
    Func<TRequest, ServerCallContext, Task<TResponse>> handler) : IUnaryMethod
    where TRequest : IMessage<TRequest>
    where TResponse : IMessage<TResponse>
{
    public string Path => path;

    public IMessage Parse(ReadOnlySequence<byte> payload) => parser.ParseFrom(payload);

    public async Task<IMessage> InvokeAsync(IMessage request, ServerCallContext context)
    {
        // Awaited inside an async method so a handler that throws before returning its Task is caught too.
        var response = await handler((TRequest)request, context).ConfigureAwait(false);
        return response ?? throw new InvalidOperationException($"Handler for {path} returned null.");
    }
}
