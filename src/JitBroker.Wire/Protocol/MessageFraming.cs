using System.Buffers;
using System.Buffers.Binary;
using System.IO.Compression;
using System.Runtime.InteropServices;

namespace JitBroker.Wire;

/// <summary>
/// Length-Prefixed-Message (PROTOCOL-HTTP2.md): 1 byte Compressed-Flag, 4 bytes big-endian Message-Length,
/// then the message. Also the size-limited gzip inflater used for Compressed-Flag = 1.
/// </summary>
internal static class MessageFraming
{
    public const int HeaderLength = 5;

    /// <summary>Largest limit we accept: the payload must fit in one array together with its prefix.</summary>
    public const int MaxMessageSizeLimit = int.MaxValue - 64;

    public const string ReceiveLimitExceeded = "Received message exceeds the maximum configured message size.";

    public static void WriteHeader(Span<byte> destination, int length)
    {
        destination[0] = 0;
        BinaryPrimitives.WriteUInt32BigEndian(destination[1..], (uint)length);
    }

    public static (byte Flag, uint Length) ReadHeader(ReadOnlySequence<byte> buffer)
    {
        Span<byte> header = stackalloc byte[HeaderLength];
        buffer.Slice(0, HeaderLength).CopyTo(header);
        return (header[0], BinaryPrimitives.ReadUInt32BigEndian(header[1..]));
    }

    public static (byte Flag, uint Length) ReadHeader(ReadOnlySpan<byte> header) =>
        (header[0], BinaryPrimitives.ReadUInt32BigEndian(header[1..]));

    /// <summary>
    /// Inflates a gzip message into a pooled buffer, stopping as soon as the output would pass
    /// <paramref name="maxSize"/>: a decompression bomb costs at most the limit in memory.
    /// </summary>
    /// <exception cref="RpcException">RESOURCE_EXHAUSTED over the limit; INTERNAL for corrupt gzip data.</exception>
    public static PooledBuffer Gunzip(ReadOnlySequence<byte> compressed, int maxSize)
    {
        byte[]? copied = null;
        Stream input;
        if (compressed.IsSingleSegment && MemoryMarshal.TryGetArray(compressed.First, out var segment))
        {
            input = new MemoryStream(segment.Array!, segment.Offset, segment.Count, writable: false);
        }
        else
        {
            copied = ArrayPool<byte>.Shared.Rent((int)compressed.Length);
            compressed.CopyTo(copied);
            input = new MemoryStream(copied, 0, (int)compressed.Length, writable: false);
        }

        var output = new PooledBuffer(Math.Min(maxSize, 16 * 1024) + 1);
        try
        {
            using var gzip = new GZipStream(input, CompressionMode.Decompress);
            while (true)
            {
                if (output.Length > maxSize)
                {
                    throw new RpcException(StatusCode.ResourceExhausted, ReceiveLimitExceeded);
                }

                // Read at most one byte past the limit: enough to know the limit was crossed.
                var room = output.EnsureFree(Math.Min(64 * 1024, maxSize + 1 - output.Length));
                var read = gzip.Read(room);
                if (read == 0)
                {
                    return output;
                }

                output.Advance(read);
            }
        }
        catch (InvalidDataException)
        {
            output.Dispose();
            throw new RpcException(StatusCode.Internal, "Failed to decompress the gzip message.");
        }
        catch
        {
            output.Dispose();
            throw;
        }
        finally
        {
            if (copied is not null)
            {
                ArrayPool<byte>.Shared.Return(copied);
            }
        }
    }
}

/// <summary>A growable byte buffer rented from <see cref="ArrayPool{T}.Shared"/>; Dispose returns it.</summary>
internal sealed class PooledBuffer : IDisposable
{
    private byte[] _array;

    public PooledBuffer(int initialCapacity) => _array = ArrayPool<byte>.Shared.Rent(Math.Max(initialCapacity, 16));

    public int Length { get; private set; }

    public ReadOnlyMemory<byte> Memory => _array.AsMemory(0, Length);

    public Span<byte> EnsureFree(int count) => GetFreeMemory(count).Span;

    public Memory<byte> GetFreeMemory(int count)
    {
        if (_array.Length - Length < count)
        {
            var bigger = ArrayPool<byte>.Shared.Rent(Math.Max(_array.Length * 2, Length + count));
            _array.AsSpan(0, Length).CopyTo(bigger);
            ArrayPool<byte>.Shared.Return(_array);
            _array = bigger;
        }

        return _array.AsMemory(Length, count);
    }

    public void Advance(int count) => Length += count;

    public void Dispose()
    {
        var array = Interlocked.Exchange(ref _array, []);
        if (array.Length > 0)
        {
            ArrayPool<byte>.Shared.Return(array);
        }
    }
}
