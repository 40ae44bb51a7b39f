// The URL paths of the protocol, built in one place for client and server.

export const Paths = {
  capabilities: '/capabilities',
  uploads: '/uploads',
  upload: (uploadId: string) => `/uploads/${encodeURIComponent(uploadId)}`,
  chunk: (uploadId: string, index: number) => `/uploads/${encodeURIComponent(uploadId)}/chunks/${index}`,
  file: (fileId: string) => `/files/${encodeURIComponent(fileId)}`,
  manifest: (fileId: string) => `/files/${encodeURIComponent(fileId)}/manifest`,
  files: '/files',
} as const;
