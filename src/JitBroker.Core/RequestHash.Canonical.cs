using System.Buffers;
using System.Security.Cryptography;
using System.Text;

namespace JitBroker.Core;

public static partial class RequestHash
{
    /// <summary>
    /// Writes the canonical form as UTF-8 into a caller's stack buffer, moving to a pooled array only when a request is
    /// too big for it. Call <see cref="Dispose"/> in a finally (not <c>using</c>: a using local is read-only, and this
    /// struct mutates).
    /// </summary>
    private ref struct CanonicalWriter
    {
        private Span<byte> _buffer;
        private byte[]? _rented;
        private int _length;

        public CanonicalWriter(Span<byte> initial)
        {
            _buffer = initial;
            _rented = null;
            _length = 0;
        }

        /// <summary><c>&lt;UTF-16 length&gt;:&lt;value&gt;</c>.</summary>
        public void Append(string value)
        {
            AppendDecimal(value.Length);
            AppendByte((byte)':');
            Ensure(Encoding.UTF8.GetMaxByteCount(value.Length));
            _length += Encoding.UTF8.GetBytes(value, _buffer[_length..]);
        }

        /// <summary>A number as a field: <c>&lt;digits&gt;:&lt;digits&gt;</c>, as <see cref="Append"/> of its invariant text.</summary>
        public void AppendNumberText(long value)
        {
            Span<byte> digits = stackalloc byte[20];
            var written = FormatInvariant(value, digits);
            AppendDecimal(written);
            AppendByte((byte)':');
            Ensure(written);
            digits[..written].CopyTo(_buffer[_length..]);
            _length += written;
        }

        /// <summary>A list's opening: <c>&lt;count&gt;[</c>.</summary>
        public void AppendCount(int count)
        {
            AppendDecimal(count);
            AppendByte((byte)'[');
        }

        public void AppendByte(byte value)
        {
            Ensure(1);
            _buffer[_length++] = value;
        }

        /// <summary><c>sha256:</c> and the lowercase hex of the SHA-256 of what was written.</summary>
        public readonly string Sha256Text()
        {
            Span<byte> hash = stackalloc byte[32];
            SHA256.HashData(_buffer[.._length], hash);
            Span<char> text = stackalloc char[7 + 64];
            "sha256:".CopyTo(text);
            Convert.TryToHexStringLower(hash, text[7..], out _);
            return new string(text);
        }

        public void Dispose()
        {
            if (_rented is not null)
            {
                ArrayPool<byte>.Shared.Return(_rented);
                _rented = null;
            }
        }

        private void AppendDecimal(long value)
        {
            Ensure(20);
            _length += FormatInvariant(value, _buffer[_length..]);
        }

        private void Ensure(int more)
        {
            if (_buffer.Length - _length >= more)
            {
                return;
            }

            var bigger = ArrayPool<byte>.Shared.Rent(Math.Max(2 * _buffer.Length, _length + more));
            _buffer[.._length].CopyTo(bigger);
            if (_rented is not null)
            {
                ArrayPool<byte>.Shared.Return(_rented);
            }

            _rented = bigger;
            _buffer = bigger;
        }
    }
}
