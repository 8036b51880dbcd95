function nhood = octagon_disk(r)
% Neighbourhood of MATLAB's strel('disk', r) with its default N = 4 (mefkit test harness):
% the dilation of the four periodic lines along (1,0), (1,1), (0,1), (-1,1) of Adams's
% radial decomposition (Adams, CVGIP 1993; Jones & Soille, PRL 1996), with k =
% 2 r / (cot(pi/8) + 1/sin(pi/8)) and floor(k / |v|) repetitions each, plus horizontal and
% vertical lines of length 2 (r - reach - 1) + 1 when that is at least 3. GNU Octave's
% image package implements strel('disk', r, 0) only.
v = [1 0; 1 1; 0 1; -1 1];
th = pi / 8;
k = 2 * r / (cot(th) + 1 / sin(th));
reps = floor(k ./ sqrt(sum(v .^ 2, 2)));
pts = [0 0];
for q = 1:4
  t = (-reps(q):reps(q))';
  line = t * v(q, :);
  n1 = size(pts, 1); n2 = size(line, 1);
  pts = unique(kron(pts, ones(n2, 1)) + repmat(line, n1, 1), 'rows');
end
reach = max(pts(:, 1));
len = 2 * (r - reach - 1) + 1;
if len >= 3
  h = (len - 1) / 2;
  for dirn = [1 0; 0 1]'
    t = (-h:h)';
    line = t * dirn';
    n1 = size(pts, 1); n2 = size(line, 1);
    pts = unique(kron(pts, ones(n2, 1)) + repmat(line, n1, 1), 'rows');
  end
end
m = max(abs(pts(:)));
nhood = false(2 * m + 1);
nhood(sub2ind(size(nhood), pts(:, 1) + m + 1, pts(:, 2) + m + 1)) = true;
end
