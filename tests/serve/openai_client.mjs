// llmrt-serve through the official OpenAI Node SDK (openai@4): models, chat and completions,
// each streamed and not, and errors raised as the SDK's APIError classes. Prints every check;
// exits 1 at the first mismatch.
//
//   node openai_client.mjs BASE_URL MODEL_ID API_KEY     (BASE_URL like http://127.0.0.1:8080/v1)
import OpenAI from 'openai';

const [baseURL, modelId, apiKey] = process.argv.slice(2);
if (!baseURL || !modelId || !apiKey) {
  console.error('usage: node openai_client.mjs BASE_URL MODEL_ID API_KEY');
  process.exit(2);
}
const client = new OpenAI({ baseURL, apiKey, maxRetries: 0, timeout: 60_000 });

function check(what, ok, detail = '') {
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}${detail ? `: ${detail}` : ''}`);
  if (!ok) process.exit(1);
}

async function expectApiError(what, call, status, ErrorClass, param) {
  try {
    await call();
    check(what, false, 'no error was raised');
  } catch (e) {
    check(what, e instanceof OpenAI.APIError && e instanceof ErrorClass && e.status === status &&
                    (param === undefined || e.param === param),
          `${e.constructor.name} status ${e.status} param ${e.param} code ${e.code}: ${e.message}`);
  }
}

const models = await client.models.list();
check('models.list names the served model', models.data.length === 1 && models.data[0].id === modelId,
      JSON.stringify(models.data.map((m) => m.id)));

const chatRequest = {
  model: modelId,
  messages: [{ role: 'system', content: 'You are terse.' }, { role: 'user', content: 'Say something.' }],
  max_tokens: 12,
  temperature: 0,
};
const chat = await client.chat.completions.create(chatRequest);
const answer = chat.choices[0].message.content;
check('chat: one assistant message', chat.object === 'chat.completion' && chat.choices.length === 1 &&
                                         chat.choices[0].message.role === 'assistant' && typeof answer === 'string',
      JSON.stringify(chat.choices[0].message));
check('chat: finish_reason and usage', ['stop', 'length'].includes(chat.choices[0].finish_reason) &&
                                           chat.usage.completion_tokens > 0 && chat.usage.completion_tokens <= 12 &&
                                           chat.usage.total_tokens === chat.usage.prompt_tokens + chat.usage.completion_tokens,
      JSON.stringify(chat.usage));

const chatStream = await client.chat.completions.create({ ...chatRequest, stream: true, stream_options: { include_usage: true } });
let streamed = '', role = null, finish = null, usage = null;
for await (const chunk of chatStream) {
  if (chunk.usage) usage = chunk.usage;
  for (const c of chunk.choices) {
    role ??= c.delta.role ?? null;
    streamed += c.delta.content ?? '';
    finish = c.finish_reason ?? finish;
  }
}
check('chat stream: deltas add up to the non-streamed answer', streamed === answer,
      `${JSON.stringify(streamed)} vs ${JSON.stringify(answer)}`);
check('chat stream: role, finish_reason and usage', role === 'assistant' && finish === chat.choices[0].finish_reason &&
                                                        usage?.completion_tokens === chat.usage.completion_tokens,
      `role ${role}, finish ${finish}, usage ${JSON.stringify(usage)}`);

const completionRequest = { model: modelId, prompt: 'Once upon a time', max_tokens: 10, temperature: 0 };
const completion = await client.completions.create(completionRequest);
const text = completion.choices[0].text;
check('completions: text', completion.object === 'text_completion' && typeof text === 'string' &&
                               ['stop', 'length'].includes(completion.choices[0].finish_reason),
      JSON.stringify(completion.choices[0]));
const completionStream = await client.completions.create({ ...completionRequest, stream: true });
let streamedText = '';
for await (const chunk of completionStream) for (const c of chunk.choices) streamedText += c.text;
check('completions stream: pieces add up to the non-streamed text', streamedText === text,
      `${JSON.stringify(streamedText)} vs ${JSON.stringify(text)}`);

await expectApiError('temperature 5 raises BadRequestError (400, param temperature)',
                     () => client.chat.completions.create({ ...chatRequest, temperature: 5 }), 400,
                     OpenAI.BadRequestError, 'temperature');
await expectApiError('an unknown model raises NotFoundError (404)',
                     () => client.chat.completions.create({ ...chatRequest, model: 'gpt-4o' }), 404, OpenAI.NotFoundError);
const stranger = new OpenAI({ baseURL, apiKey: `${apiKey}-wrong`, maxRetries: 0 });
await expectApiError('a wrong API key raises AuthenticationError (401)', () => stranger.models.list(), 401,
                     OpenAI.AuthenticationError);
console.log('all checks passed');
