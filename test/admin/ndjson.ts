/** Reads a streaming newline-delimited JSON response line by line. */

export class NdjsonReader {
  readonly lines: Array<Record<string, unknown>> = []
  private readonly reader: ReadableStreamDefaultReader<Uint8Array>
  private buffer = ''
  private readonly decoder = new TextDecoder()
  done = false

  constructor (res: Response) {
    if (res.body === null) throw new Error('no body')
    this.reader = res.body.getReader()
  }

  /** Reads until `predicate(lines)` holds or the stream ends; rejects after `timeoutMs`. */
  async until (predicate: (lines: Array<Record<string, unknown>>) => boolean, timeoutMs = 5000): Promise<Array<Record<string, unknown>>> {
    const deadline = Date.now() + timeoutMs
    while (!predicate(this.lines) && !this.done) {
      if (Date.now() > deadline) throw new Error(`timed out with ${this.lines.length} lines: ${JSON.stringify(this.lines.slice(-3))}`)
      const { value, done } = await this.reader.read()
      if (done) {
        this.done = true
        break
      }
      this.buffer += this.decoder.decode(value, { stream: true })
      let nl
      while ((nl = this.buffer.indexOf('\n')) >= 0) {
        this.lines.push(JSON.parse(this.buffer.slice(0, nl)) as Record<string, unknown>)
        this.buffer = this.buffer.slice(nl + 1)
      }
    }
    return this.lines
  }

  async cancel (): Promise<void> {
    await this.reader.cancel()
  }
}
