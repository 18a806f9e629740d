using System.CommandLine;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace JitBroker.Cli;

/// <summary>
/// Verifies a task JWT offline, the way a tool (relying party) does: signature against the broker's
/// published JWKS, audience, issuer, lifetime with an explicit clock skew. Uses Microsoft.IdentityModel,
/// an implementation independent of the broker's own signer. The token's shape is checked first: a JWE
/// (five segments) or anything else that is not a three-segment JWS is refused before the JWKS is fetched
/// and before IdentityModel parses a byte of it (CVE-2024-21319 was a denial of service through compressed JWE tokens in IdentityModel 6.x;
/// a task JWT is never encrypted).
/// </summary>
internal static class VerifyCommand
{
    public static Command Create()
    {
        var jwks = new Option<string>("--jwks") { Description = "JWKS URL, e.g. http://127.0.0.1:8080/.well-known/jwks.json", Required = true };
        var credential = new Option<string>("--credential") { Description = "The task JWT: '-' reads stdin, @FILE a file (a literal is visible in /proc).", Required = true };
        var audience = new Option<string>("--audience") { Description = "Audience this relying party expects.", Required = true };
        var issuer = new Option<string?>("--issuer") { Description = "Expected issuer (iss)." };
        var command = new Command("verify", "Verify a task JWT against the broker's JWKS, as a tool would (exit 0 valid, 1 invalid).") { jwks, credential, audience, issuer };
        command.SetAction(async (result, ct) =>
        {
            string token;
            try
            {
                token = await TokenInput.ReadAsync(result.GetValue(credential)!, "--credential", ct);
            }
            catch (UsageException ex)
            {
                await Console.Error.WriteLineAsync("error: " + ex.Message);
                return ExitCodes.Usage;
            }

            if (ShapeProblem(token) is { } problem)
            {
                Console.WriteLine("invalid: " + problem);
                return ExitCodes.Negative;
            }

            string json;
            try
            {
                using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
                json = await http.GetStringAsync(result.GetValue(jwks), ct);
            }
            catch (HttpRequestException ex)
            {
                await Console.Error.WriteLineAsync("error: cannot fetch JWKS: " + ex.Message);
                return ExitCodes.Unavailable;
            }

            var parameters = new TokenValidationParameters
            {
                IssuerSigningKeys = new JsonWebKeySet(json).GetSigningKeys(),
                ValidAudience = result.GetValue(audience),
                ValidateIssuer = result.GetValue(issuer) is not null,
                ValidIssuer = result.GetValue(issuer),
                ValidAlgorithms = ["ES256", "RS256", "PS256"], // SigningKey:Algorithm; never HS* or none
                RequireExpirationTime = true,
                RequireSignedTokens = true,
                ClockSkew = TimeSpan.FromSeconds(30),
            };
            var validation = await new JsonWebTokenHandler().ValidateTokenAsync(token, parameters);
            if (!validation.IsValid || validation.SecurityToken is not JsonWebToken jwt || jwt.Typ != "at+jwt")
            {
                Console.WriteLine($"invalid: {validation.Exception?.GetType().Name ?? "unexpected token type"}");
                return ExitCodes.Negative;
            }

            Table.Print(("valid", "true"), ("kid", jwt.Kid), ("typ", jwt.Typ), ("iss", jwt.Issuer), ("sub", jwt.Subject),
                ("aud", string.Join(",", jwt.Audiences)), ("jti", jwt.Id), ("exp", jwt.ValidTo.ToString("O")));
            return ExitCodes.Ok;
        });
        return command;
    }

    /// <summary>
    /// Why <paramref name="token"/> is not a compact JWS (three base64url segments), or null when it is.
    /// Only dots and the base64url alphabet are looked at, so nothing is decoded or parsed here.
    /// </summary>
    internal static string? ShapeProblem(string token)
    {
        var dots = token.AsSpan().Count('.');
        if (dots == 4)
        {
            return "encrypted token (JWE, five segments) refused; a task JWT is a signed JWS";
        }

        if (dots != 2)
        {
            return "not a JWS in compact serialization (three dot-separated segments)";
        }

        foreach (var c in token)
        {
            if (c is not ('.' or '-' or '_' or (>= 'A' and <= 'Z') or (>= 'a' and <= 'z') or (>= '0' and <= '9')))
            {
                return "a token segment is not base64url";
            }
        }

        return null;
    }
}
