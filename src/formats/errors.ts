/**
 * What a reader throws for an image it cannot trust: one line naming the image, the structure
 * and the byte offset where it went wrong. A build failure (exit 1) like any other, so that the
 * commands built on the readers need no translation.
 */
import { BuildError } from '../util/errors.js';

export class ImageFormatError extends BuildError {
  constructor(
    readonly image: string,
    readonly structure: string,
    readonly offset: number,
    readonly detail: string,
    options?: ErrorOptions,
  ) {
    super(`${image}: ${structure} at 0x${offset.toString(16)}: ${detail}`, undefined, undefined, options);
  }
}
