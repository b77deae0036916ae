// The verifier's primitives for browsers: the same exports as
// clients/typescript/src/crypto.ts (SHA-256 and RFC 8032 Ed25519 checks),
// on @noble/hashes and @noble/curves, which are synchronous as the verifier
// is. build.mjs puts this module in place of the Node.js one.
import { ed25519 } from "@noble/curves/ed25519.js";
import { sha256 as nobleSha256 } from "@noble/hashes/sha2.js";

/** SHA-256 of the concatenation of parts. */
export function sha256(...parts: Uint8Array[]): Uint8Array {
  const h = nobleSha256.create();
  for (const p of parts) h.update(p);
  return h.digest();
}

/**
 * Whether signature is a valid RFC 8032 Ed25519 signature of message by the
 * 32-byte publicKey (strict, as Node.js and Go check: no ZIP 215
 * leniency). Never throws.
 */
export function ed25519Verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  if (signature.length !== 64 || publicKey.length !== 32) return false;
  try {
    return ed25519.verify(signature, message, publicKey, { zip215: false });
  } catch {
    return false;
  }
}
