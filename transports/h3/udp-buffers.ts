// UDP socket buffer sizing: what the kernel granted against what the h3 options asked for.
import { createSocket } from 'node:dgram'
import type { ResolvedH3Options } from './options.js'

/** Socket buffer sizes as the kernel reports them (Linux reports twice what it will use), bytes. */
export interface UdpBufferSizes {
  recvBytes: number | undefined
  sendBytes: number | undefined
}

/** A cap found: a one-line message naming the sysctls, and the figures for the log. */
export interface BufferShortfall {
  message: string
  figures: { recvAskedBytes: number, recvGrantedBytes?: number, sendAskedBytes: number, sendGrantedBytes?: number }
}

/**
 * undefined when the kernel granted what `options` asked for; else what to warn about. Linux
 * doubles a requested size for its bookkeeping and caps the request at `net.core.rmem_max` /
 * `net.core.wmem_max` (socket(7)), so a granted figure below the asked one means a cap.
 */
export function bufferShortfall (options: Pick<ResolvedH3Options, 'recvBufferBytes' | 'sendBufferBytes'>, granted: UdpBufferSizes): BufferShortfall | undefined {
  const recvCapped = granted.recvBytes !== undefined && granted.recvBytes < options.recvBufferBytes
  const sendCapped = granted.sendBytes !== undefined && granted.sendBytes < options.sendBufferBytes
  if (!recvCapped && !sendCapped) return undefined
  const sysctls = [recvCapped ? `net.core.rmem_max=${options.recvBufferBytes}` : '', sendCapped ? `net.core.wmem_max=${options.sendBufferBytes}` : '']
    .filter((s) => s !== '').join(' ')
  return {
    message: `the kernel capped the QUIC UDP socket buffers (asked ${options.recvBufferBytes} B receive / ${options.sendBufferBytes} B send, ` +
      `got ${String(granted.recvBytes)} / ${String(granted.sendBytes)}); bursts will be dropped at high rates: sysctl -w ${sysctls} (see docs/h3.md)`,
    figures: {
      recvAskedBytes: options.recvBufferBytes,
      recvGrantedBytes: granted.recvBytes,
      sendAskedBytes: options.sendBufferBytes,
      sendGrantedBytes: granted.sendBytes,
    },
  }
}

/**
 * Asks the kernel for the configured sizes on a throwaway UDP socket (loopback, port 0) and
 * reports what it granted: the start-up check for processes that only dial out over h3.
 */
export async function grantedUdpBuffers (options: Pick<ResolvedH3Options, 'recvBufferBytes' | 'sendBufferBytes'>): Promise<UdpBufferSizes> {
  const socket = createSocket({ type: 'udp4', recvBufferSize: options.recvBufferBytes, sendBufferSize: options.sendBufferBytes })
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject)
      socket.bind(0, '127.0.0.1', () => resolve())
    })
    return { recvBytes: socket.getRecvBufferSize(), sendBytes: socket.getSendBufferSize() }
  } catch {
    return { recvBytes: undefined, sendBytes: undefined }
  } finally {
    try { socket.close() } catch {}
  }
}
