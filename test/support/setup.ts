// Adds toReceiveCommandWith & co. from aws-sdk-client-mock-vitest to every test file.
import { expect } from 'vitest';
import { allCustomMatcher } from 'aws-sdk-client-mock-vitest';

expect.extend(allCustomMatcher);
