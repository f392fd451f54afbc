# depth.gp: relative test error vs backward depth D (in stage l, layers max(2, l-D)..l
# train): D = 0 is layerwise training, D = L-2 is end to end. One curve per n; median over
# seeds with bars from the min to the max.
#   gnuplot -c plots/depth.gp fig_depth_X.csv out.png ["title"]
# Input: blocks of "D,median,min,max,method" rows, one per n, with a header "n = N".
in_csv = ARG1
out_file = ARG2
fig_title = (ARGC >= 3) ? ARG3 : ""
load system("dirname '".ARG0."'")."/style.gp"
set logscale y
set xlabel "backward depth D  (0 = layerwise, L-2 = e2e)"
set ylabel "relative test error  E(F − G^*)^2 / Var G^*"
set format y "%g"
set xtics 1
set autoscale xfix
set offsets 0.3, 0.3, 0, 0
set key outside right top
plot for [i=0:nblocks-1] in_csv index i using ($1 + 0.03 * (i - (nblocks - 1) / 2.0)):2:3:4 \
         with yerrorlines lc rgb series_color(i) pt series_point(i) title columnheader(1)
