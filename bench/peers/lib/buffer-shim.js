// esbuild --inject: the AWS Encryption SDK for browsers uses Node's Buffer.
import { Buffer } from 'buffer';

globalThis.Buffer ??= Buffer;
export { Buffer };
