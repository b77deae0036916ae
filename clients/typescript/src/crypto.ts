// The primitives the verifier needs, on Node.js's crypto: SHA-256 and
// Ed25519 signature checks. A browser build of the verifier (the web
// console, server/console/ui) swaps this module for one on @noble/hashes
// and @noble/curves with the same exports; both are held to the shared test
// vectors.
import { createHash, createPublicKey, verify } from "node:crypto";

/** SHA-256 of the concatenation of parts. */
export function sha256(...parts: Uint8Array[]): Uint8Array {
  const h = createHash("sha256");
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
}

/**
 * Whether signature is a valid RFC 8032 Ed25519 signature of message by the
 * 32-byte publicKey. Never throws.
 */
export function ed25519Verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  if (signature.length !== 64 || publicKey.length !== 32) return false;
  try {
    const key = createPublicKey({
      key: { kty: "OKP", crv: "Ed25519", x: Buffer.from(publicKey).toString("base64url") },
      format: "jwk",
    });
    return verify(null, message, key, signature);
  } catch {
    return false;
  }
}
