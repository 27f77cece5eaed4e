// A start-up error in a resource file, naming the file, the document and the field.
export class ResourceError extends Error {
  override readonly name = 'ResourceError';

  constructor(
    readonly file: string,
    /** 1-based position of the document in its file; 0 when the whole file is at fault. */
    readonly documentIndex: number,
    readonly field: string,
    readonly reason: string,
    options?: ErrorOptions,
  ) {
    super(describe(file, documentIndex, field, reason), options);
  }
}

function describe(file: string, doc: number, field: string, reason: string): string {
  const where = [file];
  if (doc > 0) where.push(`document ${doc}`);
  if (field) where.push(`field ${field}`);
  return `${where.join(', ')}: ${reason}`;
}
