// Adds toHaveReceivedCommandWith / toReceiveCommandWith & co. from aws-sdk-client-mock-vitest to every test file.
import { expect } from 'vitest';
import { allCustomMatcherWithAliases } from 'aws-sdk-client-mock-vitest';

expect.extend(allCustomMatcherWithAliases);
