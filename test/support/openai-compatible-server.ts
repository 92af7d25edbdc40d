import Fastify, { type FastifyInstance } from 'fastify';

/**
 * A local OpenAI-compatible chat completions server for tests, driven by the
 * real `openai` client. Each request takes the next queued reply, or the
 * default reply when the queue is empty.
 */
export type ScriptedReply =
  /** A completion whose message content is this value, JSON-encoded unless it is a string. */
  | { kind: 'answer'; content: unknown; totalTokens?: number; delayMs?: number }
  | { kind: 'malformed' }
  | { kind: 'delay'; delayMs: number; content?: unknown }
  | { kind: 'status'; status: 429 | 500 | 503 | 400; retryAfter?: string; retryAfterMs?: string };

export interface ChatRequest {
  model: string;
  messages: Array<{ role: string; content: string }>;
  response_format?: {
    type: string;
    json_schema?: { name: string; strict?: boolean; schema: Record<string, unknown> };
  };
  max_tokens?: number;
  temperature?: number;
}

export interface OpenAiCompatibleServer {
  /** Base URL for the client, ending in `/v1`. */
  baseUrl: string;
  requests: ChatRequest[];
  /** Replies used in order before the default. */
  queue: ScriptedReply[];
  /** Builds the reply to a request when the queue is empty. */
  defaultReply: (request: ChatRequest) => ScriptedReply;
  close(): Promise<void>;
}

/** A valid answer for any request: `unknown`, not retryable. */
export function plainAnswer(): ScriptedReply {
  return { kind: 'answer', content: { category: 'unknown', retryable: false, confidence: 0.6, rationale: 'no recognizable cause' } };
}

/** Starts the server on 127.0.0.1 with an ephemeral port. */
export async function startOpenAiCompatibleServer(): Promise<OpenAiCompatibleServer> {
  const app: FastifyInstance = Fastify({ logger: false });
  const state: Omit<OpenAiCompatibleServer, 'baseUrl' | 'close'> = {
    requests: [],
    queue: [],
    defaultReply: () => plainAnswer(),
  };

  app.post('/v1/chat/completions', async (request, reply) => {
    const body = request.body as ChatRequest;
    state.requests.push(body);
    const scripted = state.queue.shift() ?? state.defaultReply(body);

    if (scripted.kind === 'status') {
      if (scripted.retryAfter !== undefined) reply.header('retry-after', scripted.retryAfter);
      if (scripted.retryAfterMs !== undefined) reply.header('retry-after-ms', scripted.retryAfterMs);
      return reply.code(scripted.status).send({ error: { message: `scripted status ${scripted.status}`, type: 'scripted', code: null } });
    }
    if (scripted.kind === 'malformed') {
      return reply.send(completion(body, '{"category": "timeout", "retryable": tru', 20));
    }
    const delayMs = scripted.delayMs ?? 0;
    if (delayMs > 0) await new Promise((resolve) => setTimeout(resolve, delayMs));
    const content = scripted.kind === 'delay' ? (scripted.content ?? plainAnswerContent()) : scripted.content;
    const text = typeof content === 'string' ? content : JSON.stringify(content);
    const totalTokens = scripted.kind === 'answer' ? scripted.totalTokens : undefined;
    return reply.send(completion(body, text, totalTokens));
  });

  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  if (address === null || typeof address === 'string') throw new Error('test server has no TCP address');

  return Object.assign(state, {
    baseUrl: `http://127.0.0.1:${address.port}/v1`,
    close: () => app.close(),
  });
}

function plainAnswerContent(): unknown {
  return (plainAnswer() as { content: unknown }).content;
}

function completion(request: ChatRequest, content: string, totalTokens?: number): Record<string, unknown> {
  const promptTokens = Math.ceil(request.messages.reduce((sum, message) => sum + message.content.length, 0) / 4);
  const completionTokens = Math.ceil(content.length / 4);
  return {
    id: `chatcmpl-test-${Date.now()}`,
    object: 'chat.completion',
    created: Math.floor(Date.now() / 1000),
    model: request.model,
    choices: [{ index: 0, message: { role: 'assistant', content, refusal: null }, finish_reason: 'stop', logprobs: null }],
    usage: {
      prompt_tokens: promptTokens,
      completion_tokens: completionTokens,
      total_tokens: totalTokens ?? promptTokens + completionTokens,
    },
  };
}
