import { createHash } from "node:crypto";

/** sha256 of a text (its UTF-8 bytes), as 64 hex digits. */
export const sha256 = (text: string | Uint8Array): string => createHash("sha256").update(text).digest("hex");
