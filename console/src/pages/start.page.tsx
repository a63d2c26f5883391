/**
 * The start page (SPEC 13): pick a template and fill its parameters in a generated form, or paste
 * a definition. The server checks everything before a run exists; its problems are shown at their
 * JSON paths and nothing starts. A viewer can read and check, but not start.
 */
import { useEffect, useState } from 'preact/hooks';
import { ApiError, get, post } from '../api/http.ts';
import type { ErrorDetail, TemplateSummary } from '../api/types.ts';
import { ErrorList } from '../components/error-list.tsx';
import { TemplateForm, typedParams } from '../components/template-form.tsx';
import { runHref } from '../state/router.ts';
import { canAct } from '../state/session.ts';

const EXAMPLE = JSON.stringify(
  {
    sequence_id: 'zone-1',
    steps: [
      { name: 'Open valve', action: { type: 'actuator_command', esp_id: 'ESP_12AB34CD', gpio: 5, command: 'ON' } },
      { name: 'Water', delay_seconds: 5 },
      { name: 'Close valve', action: { type: 'actuator_command', esp_id: 'ESP_12AB34CD', gpio: 5, command: 'OFF' } },
    ],
  },
  null,
  2,
);

/** Errors of a refused call, as a list at paths. */
function problems(error: unknown): ErrorDetail[] {
  if (error instanceof ApiError) return error.details.length > 0 ? error.details : [{ path: '', code: error.code ?? 0, message: error.message }];
  return [{ path: '', code: 0, message: String(error) }];
}

/**
 * Starts a run and opens its page; on refusal, hands the problems (at their paths) to `onErrors`.
 * `onBusy` is true while the request is out.
 */
async function startAndOpen(path: string, body: unknown, onErrors: (errors: ErrorDetail[]) => void, onBusy: (busy: boolean) => void): Promise<void> {
  onBusy(true);
  onErrors([]);
  try {
    const started = await post<{ run_id: string }>(path, body);
    location.hash = runHref(started.run_id);
  } catch (error) {
    onErrors(problems(error));
  } finally {
    onBusy(false);
  }
}

/** The start page. */
export function StartPage() {
  const [mode, setMode] = useState<'template' | 'definition'>('template');
  return (
    <section class="page start-page" aria-labelledby="start-title">
      <h1 id="start-title">Start a run</h1>
      <div class="tabs" role="tablist" aria-label="How to start">
        <button type="button" role="tab" aria-selected={mode === 'template'} onClick={() => setMode('template')}>
          From a template
        </button>
        <button type="button" role="tab" aria-selected={mode === 'definition'} onClick={() => setMode('definition')}>
          Paste a definition
        </button>
      </div>
      {!canAct() ? <p class="notice">Your token may only read: you can check a definition, not start it.</p> : null}
      {mode === 'template' ? <FromTemplate /> : <FromDefinition />}
    </section>
  );
}

function FromTemplate() {
  const [templates, setTemplates] = useState<TemplateSummary[] | null>(null);
  const [name, setName] = useState('');
  const [values, setValues] = useState<Record<string, string | boolean>>({});
  const [errors, setErrors] = useState<ErrorDetail[]>([]);
  const [loadError, setLoadError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    get<{ templates: TemplateSummary[] }>('/sequence-templates')
      .then((answer) => {
        setTemplates(answer.templates);
        if (answer.templates[0]) setName(answer.templates[0].name);
      })
      .catch((error: ApiError) => setLoadError(error.notAvailable ? 'Templates are not available on this server.' : error.message));
  }, []);
  if (loadError) return <p class="notice">{loadError}</p>;
  if (templates === null) return <p class="muted">Loading templates…</p>;
  if (templates.length === 0) return <p class="muted">No template is stored yet (PUT /api/v1/sequence-templates/&lt;name&gt;). Paste a definition instead.</p>;
  const template = templates.find((t) => t.name === name) ?? templates[0]!;
  const start = () =>
    startAndOpen(`/sequence-templates/${encodeURIComponent(template.name)}/start`, { params: typedParams(template, values) }, setErrors, setBusy);
  return (
    <form
      class="start-form"
      noValidate
      onSubmit={(e) => {
        e.preventDefault();
        void start();
      }}
    >
      <label>
        Template
        <select
          name="template"
          value={template.name}
          onChange={(e) => {
            setName(e.currentTarget.value);
            setValues({});
            setErrors([]);
          }}
        >
          {templates.map((t) => (
            <option key={t.name} value={t.name}>
              {t.name} (v{t.version})
            </option>
          ))}
        </select>
      </label>
      {template.description ? <p class="muted">{template.description}</p> : null}
      <TemplateForm template={template} values={values} errors={errors} onChange={(key, value) => setValues({ ...values, [key]: value })} />
      <ErrorList title="Not started: the server refused the request" errors={errors} />
      {canAct() ? (
        <button type="submit" disabled={busy}>
          Start {template.name}
        </button>
      ) : null}
    </form>
  );
}

function FromDefinition() {
  const [text, setText] = useState(EXAMPLE);
  const [errors, setErrors] = useState<ErrorDetail[]>([]);
  const [checked, setChecked] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const parse = (): unknown => {
    try {
      return JSON.parse(text);
    } catch (error) {
      setErrors([{ path: '', code: 5600, message: `Not valid JSON: ${(error as Error).message}` }]);
      return undefined;
    }
  };
  const check = async () => {
    setChecked(null);
    setErrors([]);
    const body = parse();
    if (body === undefined) return;
    try {
      const answer = await post<{ valid: boolean; errors: ErrorDetail[]; total_steps: number; estimated_duration_seconds: number | null }>('/sequences/validate', body);
      setErrors(answer.errors);
      if (answer.valid) setChecked(`Valid: ${answer.total_steps} steps, about ${answer.estimated_duration_seconds ?? '?'} s.`);
    } catch (error) {
      setErrors(problems(error));
    }
  };
  const start = async () => {
    setChecked(null);
    setErrors([]);
    const body = parse();
    if (body !== undefined) await startAndOpen('/sequences', body, setErrors, setBusy);
  };
  return (
    <form class="start-form" onSubmit={(e) => (e.preventDefault(), void start())}>
      <label>
        Definition (JSON)
        <textarea name="definition" rows={16} spellcheck={false} value={text} onInput={(e) => setText(e.currentTarget.value)} />
      </label>
      <ErrorList title="Problems (nothing was started)" errors={errors} />
      {checked ? <p role="status">{checked}</p> : null}
      <div class="buttons">
        <button type="button" onClick={() => void check()}>
          Check
        </button>
        {canAct() ? (
          <button type="submit" disabled={busy}>
            Start
          </button>
        ) : null}
      </div>
    </form>
  );
}
