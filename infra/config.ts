import * as pulumi from '@pulumi/pulumi';
import { defaultStatePrefix, statePrefixProblem } from 'frontendops/engine';
import { z } from 'zod';

/** The stack's settings, parsed once; see Pulumi.dashboard-hosting-prod.yaml. */
export type HostingConfig = z.infer<typeof hostingConfigSchema>;

/** GitHub's id of the repository or its owner, as the tool's `approval.github` takes it. */
const githubId = (field: string, jq: string) =>
  z
    .string()
    .regex(
      /^[1-9][0-9]{0,19}$/,
      `expected ${field} as decimal digits (e.g. "123456789"): \`gh api repos/OWNER/REPO --jq ${jq}\` prints it`,
    )
    .optional();

const hostingFields = z.object({
  region: z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d$/, 'an AWS region such as eu-central-1'),
  githubRepository: z.string().regex(/^[\w.-]+\/[\w.-]+$/, 'owner/name of the GitHub repository'),
  githubBranch: z.string().regex(/^[\w./-]+$/),
  githubEnvironment: z.string().regex(/^[\w.-]+$/),
  /**
   * The ids GitHub gave the repository and its owner. With both set, the roles trust only GitHub's
   * immutable subject (`repo:OWNER@OWNER-ID/REPO@REPO-ID:…`), which a repository created again under
   * the name, or under an owner's name another account took, cannot carry.
   */
  githubRepositoryId: githubId('githubRepositoryId', '.id'),
  githubOwnerId: githubId('githubOwnerId', '.owner.id'),
  /** An existing token.actions.githubusercontent.com provider (an account may hold only one). */
  githubOidcProviderArn: z.string().startsWith('arn:aws:iam::').optional(),
  appName: z.string().regex(/^[a-z0-9][a-z0-9-]*$/),
  /** Where FrontendOps keeps lock, pointer, records and audit; its default for a stack without a statePrefix output. */
  statePrefix: z
    .string()
    .endsWith('/', 'a key prefix ending in "/"')
    .superRefine((prefix, ctx) => {
      // The tool's own rule for the output this becomes, so a prefix accepted here is one it can use.
      const problem = statePrefixProblem(prefix);
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
    }),
  artifactsNoncurrentDays: z.coerce.number().int().min(1),
  priceClass: z.enum(['PriceClass_100', 'PriceClass_200', 'PriceClass_All']),
});

const hostingConfigSchema = hostingFields.refine(
  (c) => (c.githubRepositoryId === undefined) === (c.githubOwnerId === undefined),
  {
    path: ['githubOwnerId'],
    message:
      'expected githubRepositoryId and githubOwnerId together or neither: the immutable subject names both',
  },
);

export function readHostingConfig(): HostingConfig {
  const config = new pulumi.Config();
  const raw = {
    region: new pulumi.Config('aws').get('region'),
    githubRepository: config.get('githubRepository'),
    githubBranch: config.get('githubBranch') ?? 'main',
    githubEnvironment: config.get('githubEnvironment') ?? pulumi.getStack(),
    githubRepositoryId: config.get('githubRepositoryId'),
    githubOwnerId: config.get('githubOwnerId'),
    githubOidcProviderArn: config.get('githubOidcProviderArn'),
    appName: config.get('appName') ?? 'sophia-dashboard',
    statePrefix: config.get('statePrefix') ?? defaultStatePrefix(pulumi.getStack()),
    artifactsNoncurrentDays: config.get('artifactsNoncurrentDays') ?? '30',
    priceClass: config.get('priceClass') ?? 'PriceClass_100',
  };
  const parsed = hostingConfigSchema.safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new Error(
      `Stack ${pulumi.getStack()} has invalid config (${problems}). ` +
        'Set it with `pulumi config set <key> <value>` (see Pulumi.dashboard-hosting-prod.yaml).',
    );
  }
  return parsed.data;
}
