// Reads the join token's claims for display only. The server verifies the signature;
// nothing here is trusted for access.

/** The `token` query parameter, trimmed, or ''. */
export function tokenFromUrl(href = location.href) {
  return (new URL(href).searchParams.get('token') || '').trim();
}

/** `{room, name, role, exp}` from a JWT's payload, or `null` if it cannot be read. */
export function decodeClaims(token) {
  const parts = (token || '').split('.');
  if (parts.length !== 3) return null;
  try {
    const b64 = parts[1].replace(/-/g, '+').replace(/_/g, '/');
    const bin = atob(b64 + '='.repeat((4 - (b64.length % 4)) % 4));
    const bytes = Uint8Array.from(bin, (c) => c.charCodeAt(0));
    const claims = JSON.parse(new TextDecoder().decode(bytes));
    if (!claims || typeof claims !== 'object' || typeof claims.name !== 'string') return null;
    return {
      room: String(claims.room ?? ''),
      name: claims.name.trim() || 'Guest',
      role: claims.role === 'facilitator' ? 'facilitator' : 'learner',
      exp: Number(claims.exp) || 0,
    };
  } catch {
    return null;
  }
}

/** True when the claims' expiry has passed by this computer's clock (with slack). */
export function looksExpired(claims, nowMs = Date.now()) {
  return claims.exp > 0 && claims.exp * 1000 + 60_000 < nowMs;
}

/** The session report page for the holder of `token` (in the fragment: never sent). */
export function reportUrl(token = tokenFromUrl()) {
  return `/report.html#token=${encodeURIComponent(token)}`;
}
